/* tc_crc32.h - CRC-32/IEEE (same as zlib.crc32), incremental, table-driven, no heap. */
#ifndef TC_CRC32_H
#define TC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc = tc_crc32_update(0, a, na); crc = tc_crc32_update(crc, b, nb); == zlib.crc32(a + b) */
uint32_t tc_crc32_update(uint32_t crc, const void *data, size_t n);

#endif
