/*
 * sl_crc32.h -- CRC-32 as zlib, gzip and PNG compute it (reflected
 * polynomial 0xEDB88320, initial value and final xor 0xffffffff).
 *
 * One shot:     crc = sl_crc32(p, len);
 * Incremental:  sl_crc32_init(crc);
 *               sl_crc32_update(&crc, p1, len1); ...
 *               sl_crc32_final(crc);
 */
#ifndef SL_CRC32_H
#define SL_CRC32_H

#include "sl_config.h"

#define sl_crc32_init(crc)   crc = 0xffffffff
#define sl_crc32_final(crc)  crc ^= 0xffffffff

void sl_crc32_update(uint32_t *crc, u_char *p, size_t len);
uint32_t sl_crc32(u_char *p, size_t len);

#endif /* SL_CRC32_H */
