#include <math.h>

#include "sumsq.h"

int sumsq_dev(const double *x, size_t n, double center, double *out)
{
    double sum = 0.0;
    double comp = 0.0; /* the low-order bits each addition lost */
    size_t i;

    if (out == NULL || (x == NULL && n > 0)) {
        return SUMSQ_ENULL;
    }
    for (i = 0; i < n; i++) {
        double d = x[i] - center;
        double term = d * d;
        double t = sum + term;
        /* Neumaier: recover what was rounded away, whichever operand was the larger. */
        if (fabs(sum) >= fabs(term)) {
            comp += (sum - t) + term;
        } else {
            comp += (term - t) + sum;
        }
        sum = t;
    }
    /* Once a term is inf or NaN the compensation is NaN (inf - inf); the plain sum is the answer. */
    *out = isfinite(sum) ? sum + comp : sum;
    return SUMSQ_OK;
}
