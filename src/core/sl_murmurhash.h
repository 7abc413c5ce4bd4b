/*
 * sl_murmurhash.h -- MurmurHash2 (Austin Appleby's, 32 bits, seed 0), as
 * nginx computes it: four bytes at a time read little-endian whatever
 * the host's order, so the same key gives the same hash everywhere.
 * split_clients spreads its keys with it; any change here moves clients
 * between buckets.
 */
#ifndef SL_MURMURHASH_H
#define SL_MURMURHASH_H

#include "sl_config.h"

uint32_t sl_murmur_hash2(const u_char *data, size_t len);

#endif /* SL_MURMURHASH_H */
