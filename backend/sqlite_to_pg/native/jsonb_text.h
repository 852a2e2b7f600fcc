/* The text Postgres' jsonb prints for a JSON text, computed without Postgres (jsonb_text.c).
 * Plain malloc memory: the functions run without Python's GIL and outside SQLite. */
#ifndef CUTOVER_JSONB_TEXT_H
#define CUTOVER_JSONB_TEXT_H

#include <stddef.h>

typedef struct {
    unsigned char *data;
    size_t length, capacity;
} Bytes;

/* What one line's jsonb texts are worked out in; reused from line to line. */
typedef struct {
    Bytes json;    /* a COPY field, unescaped: the JSON text */
    Bytes arena;   /* values rendered, and what they are rendered from */
    Bytes decoded; /* a string value, its escapes decoded */
    void *members; /* the members of the objects open while rendering */
    size_t members_used, members_capacity;
} JsonbScratch;

/* Appends to out the text jsonb prints (jsonb_out) for the value Postgres makes of the COPY
 * text field field[0:length] (the load's escaping: \\ \t \n \r \b \f \v), or \N for \N.
 * Returns 1, or 0 where the value is not of a shape handled here (a negative zero, an exponent
 * past 1000, other COPY escapes, nesting deeper than JSONB_TEXT_DEPTH), is not JSON Postgres
 * takes, or memory ran out. */
int jsonb_field_text(const unsigned char *field, size_t length, JsonbScratch *scratch,
                     Bytes *out);

/* The jsonb text of the JSON text json[0:length] into out (replacing what it held); 1, or 0
 * as for jsonb_field_text. */
int jsonb_text(const unsigned char *json, size_t length, JsonbScratch *scratch, Bytes *out);

int bytes_reserve(Bytes *bytes, size_t more);
void jsonb_scratch_free(JsonbScratch *scratch);

#define JSONB_TEXT_DEPTH 200

#endif
