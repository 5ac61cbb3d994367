/* splitmix64: the one 64-bit mixer used to derive reproducible random streams from seeds
 * (augmentation RNG seeding, weight initialisation). */
#ifndef CT_SPLITMIX_H
#define CT_SPLITMIX_H

#include <stdint.h>

static inline uint64_t ct_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
