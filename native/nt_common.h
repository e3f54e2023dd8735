/* Shared by every kernel family: status codes and the embedded package version. */
#ifndef NT_COMMON_H
#define NT_COMMON_H

#include <stdint.h>

/* A kernel returns NT_OK or NT_STATUS(kind, arg): kind says what is wrong, arg is the 1-based
 * position of the offending parameter in the C signature, so the Python wrapper can name it. */
enum nt_error_kind {
    NT_OK = 0,
    NT_E_RANGE = 1,    /* a scalar is out of range, or an array holds a value the kernel refuses */
    NT_E_LENGTH = 2,   /* an array length is negative or does not match */
    NT_E_NOMEM = 3,    /* scratch memory could not be allocated */
    NT_E_CAPACITY = 4  /* an output buffer is too small */
};

#define NT_STATUS(kind, arg) (-((int)(kind) * 256 + (int)(arg)))

/* Defined by the generated module: the neural-trader version the module was built from. */
const char *nt_kernel_version(void);

#endif
