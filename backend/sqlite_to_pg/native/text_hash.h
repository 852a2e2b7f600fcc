/* The 64-bit hashes Postgres' hashtextextended(text, seed) gives a text under a deterministic
 * collation ("C") and hashint8extended(bigint, seed) a bigint, computed without Postgres
 * (text_hash.c). */
#ifndef CUTOVER_TEXT_HASH_H
#define CUTOVER_TEXT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t text_hash(const unsigned char *text, size_t length); /* seed 0 */
uint64_t text_hash_seeded(const unsigned char *text, size_t length, uint64_t seed);
uint64_t int8_hash(int64_t value, uint64_t seed);

#endif
