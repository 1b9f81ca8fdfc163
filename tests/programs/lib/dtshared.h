/* The interface of libdtshared.so, the test programs' shared library. */
#ifndef DT_DTSHARED_H
#define DT_DTSHARED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Burns CPU for `iterations` steps of a dependent multiply/xorshift chain; returns the final state. */
uint64_t dt_shared_spin(uint64_t seed, uint64_t iterations);
const char *dt_shared_name(void);

#ifdef __cplusplus
}
#endif

#endif
