/* The 64-bit hash Postgres' hashtextextended(text, 0) gives a text under a deterministic
 * collation ("C"), computed without Postgres (text_hash.c). */
#ifndef CUTOVER_TEXT_HASH_H
#define CUTOVER_TEXT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t text_hash(const unsigned char *text, size_t length);

#endif
