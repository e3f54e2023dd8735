/* sumsq.h as cffi's cdef reads it: no include guard, no #include (cdef has no preprocessor). */
#define SUMSQ_OK 0
#define SUMSQ_ENULL 1

int sumsq_dev(const double *x, size_t n, double center, double *out);
