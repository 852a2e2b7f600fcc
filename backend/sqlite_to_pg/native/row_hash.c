/* The row hash of sqlite_to_pg/row_hash.py from a row's COPY text: the fields are the text's
 * tab-separated parts; a field \N (NULL) hashes to 0, any other to hashtextextended of its
 * text with COPY's escapes undone (\b \f \n \r \t \v, octal \ooo, \xhh, any other escaped
 * byte as itself), as Postgres' hash_record_extended combines them (r = 31 r + h); the row's
 * hash is then hashint8extended(r, r), which mixes the fields, so that values swapped between
 * rows change the sum of the rows' hashes. */
#include "row_hash.h"

#include <stdlib.h>
#include <string.h>

#include "text_hash.h"

#define SHORT_FIELD 512

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* text[0:length] with COPY's escapes undone into out (as long as text at most); its length. */
static size_t unescaped(const unsigned char *text, size_t length, unsigned char *out) {
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = text[i];
        if (c != '\\' || i + 1 == length) {
            out[n++] = c;
            continue;
        }
        c = text[++i];
        if (c >= '0' && c <= '7') {
            unsigned value = c - '0';
            for (int digits = 1; digits < 3 && i + 1 < length && text[i + 1] >= '0' &&
                                 text[i + 1] <= '7'; digits++)
                value = value * 8 + (text[++i] - '0');
            out[n++] = (unsigned char)value;
        } else if (c == 'x' && i + 1 < length && hex_value(text[i + 1]) >= 0) {
            unsigned value = (unsigned)hex_value(text[++i]);
            if (i + 1 < length && hex_value(text[i + 1]) >= 0)
                value = value * 16 + (unsigned)hex_value(text[++i]);
            out[n++] = (unsigned char)value;
        } else {
            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'v': c = '\v'; break;
            default: break; /* the byte itself */
            }
            out[n++] = c;
        }
    }
    return n;
}

static uint64_t field_hash(const unsigned char *text, size_t length) {
    if (length == 2 && text[0] == '\\' && text[1] == 'N') return 0;
    if (memchr(text, '\\', length) == NULL) return text_hash(text, length);
    unsigned char small[SHORT_FIELD] = {0}; /* zeroed: gcc cannot see unescaped fill it */
    unsigned char *out = length <= SHORT_FIELD ? small : malloc(length);
    if (out == NULL) abort(); /* no memory for one field: nothing sensible to hash */
    size_t written = unescaped(text, length, out);
    uint64_t hash = text_hash(out, written);
    if (out != small) free(out);
    return hash;
}

uint64_t row_hash(const unsigned char *text, size_t length) {
    uint64_t combined = 0;
    const unsigned char *end = text + length;
    for (;;) {
        const unsigned char *tab = memchr(text, '\t', (size_t)(end - text));
        const unsigned char *stop = tab ? tab : end;
        combined = (combined << 5) - combined + field_hash(text, (size_t)(stop - text));
        if (tab == NULL) break;
        text = tab + 1;
    }
    return int8_hash((int64_t)combined, combined);
}
