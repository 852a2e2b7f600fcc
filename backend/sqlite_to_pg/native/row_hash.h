/* One row's hash for the row checksums (sqlite_to_pg/row_hash.py defines it), from its COPY
 * text, computed without Postgres (row_hash.c). */
#ifndef CUTOVER_ROW_HASH_H
#define CUTOVER_ROW_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of the row whose COPY text (no newline) is text[0:length]. */
uint64_t row_hash(const unsigned char *text, size_t length);

#endif
