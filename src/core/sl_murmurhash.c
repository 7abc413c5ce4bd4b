/*
 * sl_murmurhash.c -- MurmurHash2, 32 bits (sl_murmurhash.h). Pure
 * computation: no allocation, no state.
 */
#include "sl_config.h"
#include "sl_core.h"

#define SL_MURMUR_M  0x5bd1e995u

/* one 4-byte block mixed into the hash */
static uint32_t
sl_murmur_block(uint32_t h, const u_char *p)
{
    uint32_t  k;

    /* byte by byte: the key's bytes, not the host's word order */
    k = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
        | (uint32_t) p[3] << 24;

    k *= SL_MURMUR_M;
    k ^= k >> 24;
    k *= SL_MURMUR_M;

    return (h * SL_MURMUR_M) ^ k;
}

uint32_t
sl_murmur_hash2(const u_char *data, size_t len)
{
    uint32_t  h = (uint32_t) len;       /* the seed, 0, xor the length */
    size_t    rest = len & 3;

    for ( /* void */ ; len >= 4; len -= 4, data += 4) {
        h = sl_murmur_block(h, data);
    }

    /* the last 1-3 bytes, each where a block would have put it */
    if (rest > 0) {
        if (rest == 3) {
            h ^= (uint32_t) data[2] << 16;
        }
        if (rest >= 2) {
            h ^= (uint32_t) data[1] << 8;
        }
        h ^= data[0];
        h *= SL_MURMUR_M;
    }

    h ^= h >> 13;
    h *= SL_MURMUR_M;
    h ^= h >> 15;

    return h;
}
