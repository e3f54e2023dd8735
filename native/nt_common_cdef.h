enum nt_error_kind {
    NT_OK = 0,
    NT_E_RANGE = 1,
    NT_E_LENGTH = 2,
    NT_E_NOMEM = 3,
    NT_E_CAPACITY = 4
};

const char *nt_kernel_version(void);
