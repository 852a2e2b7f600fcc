/* The text Postgres 15's jsonb prints for a JSON text (jsonb_out), worked out without Postgres:
 * verify hashes it for the source side of a jsonb column (sqlite_to_pg/native_rows.py).
 *
 * What jsonb keeps of a JSON text, and how it prints it:
 *  - an object's keys sorted by their length in bytes, then by their bytes, each key once (the
 *    last value given for it kept); printed {"k": v, "k2": v2}, {} when empty;
 *  - an array's elements in order, printed [a, b], [] when empty;
 *  - a string with its escapes decoded (\uXXXX as UTF-8, a surrogate pair as one character;
 *    \u0000 and a lone surrogate refused), printed with " \ and every byte below 0x20
 *    escaped: \b \f \n \r \t by letter, the others as \u00xx; every other byte as it is;
 *  - a number as numeric prints it: for a number without an exponent, its text; with one, its
 *    digits with the point moved, as many fraction digits as written less the exponent;
 *  - true, false, null; spaces, tabs, newlines and carriage returns between tokens dropped.
 * Anything else gives 0 ("not handled here"), and the caller verifies that value the general
 * way: negative zeros (-0, -0.0: numeric has no sign for zero), exponents beyond +-1000,
 * nesting deeper than JSONB_TEXT_DEPTH, text that is not JSON.
 */
#include "jsonb_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t key_at, key_length, value_at, value_length, order;
} Member;

typedef struct {
    const unsigned char *at, *end;
    JsonbScratch *scratch;
} Parser;

int bytes_reserve(Bytes *bytes, size_t more) {
    if (bytes->length + more <= bytes->capacity) return 1;
    size_t capacity = bytes->capacity ? bytes->capacity : 256;
    while (capacity < bytes->length + more) capacity *= 2;
    unsigned char *data = realloc(bytes->data, capacity);
    if (data == NULL) return 0;
    bytes->data = data;
    bytes->capacity = capacity;
    return 1;
}

static int bytes_put(Bytes *bytes, const void *text, size_t length) {
    if (!bytes_reserve(bytes, length)) return 0;
    memcpy(bytes->data + bytes->length, text, length);
    bytes->length += length;
    return 1;
}

void jsonb_scratch_free(JsonbScratch *scratch) {
    free(scratch->json.data);
    free(scratch->arena.data);
    free(scratch->decoded.data);
    free(scratch->members);
    memset(scratch, 0, sizeof(*scratch));
}

static void skip_space(Parser *p) {
    while (p->at < p->end &&
           (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
        p->at++;
}

static int hex4(const unsigned char *at, const unsigned char *end, uint32_t *code) {
    if (end - at < 4) return 0;
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = at[i];
        value <<= 4;
        if (c >= '0' && c <= '9') value |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') value |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') value |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *code = value;
    return 1;
}

static int put_utf8(Bytes *out, uint32_t code) {
    unsigned char bytes[4];
    size_t length;
    if (code < 0x80) {
        bytes[0] = (unsigned char)code, length = 1;
    } else if (code < 0x800) {
        bytes[0] = (unsigned char)(0xC0 | (code >> 6));
        bytes[1] = (unsigned char)(0x80 | (code & 0x3F)), length = 2;
    } else if (code < 0x10000) {
        bytes[0] = (unsigned char)(0xE0 | (code >> 12));
        bytes[1] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | (code & 0x3F)), length = 3;
    } else {
        bytes[0] = (unsigned char)(0xF0 | (code >> 18));
        bytes[1] = (unsigned char)(0x80 | ((code >> 12) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
        bytes[3] = (unsigned char)(0x80 | (code & 0x3F)), length = 4;
    }
    return bytes_put(out, bytes, length);
}

/* A JSON string at p->at (its opening quote), its escapes decoded, appended to out. */
static int decode_string(Parser *p, Bytes *out) {
    if (p->at >= p->end || *p->at != '"') return 0;
    p->at++;
    for (;;) {
        const unsigned char *run = p->at;
        while (p->at < p->end && *p->at != '"' && *p->at != '\\' && *p->at >= 0x20) p->at++;
        if (!bytes_put(out, run, (size_t)(p->at - run))) return 0;
        if (p->at >= p->end || *p->at < 0x20) return 0;
        if (*p->at == '"') {
            p->at++;
            return 1;
        }
        if (p->end - p->at < 2) return 0;
        unsigned char escaped = p->at[1], byte;
        p->at += 2;
        switch (escaped) {
        case '"': byte = '"'; break;
        case '\\': byte = '\\'; break;
        case '/': byte = '/'; break;
        case 'b': byte = '\b'; break;
        case 'f': byte = '\f'; break;
        case 'n': byte = '\n'; break;
        case 'r': byte = '\r'; break;
        case 't': byte = '\t'; break;
        case 'u': {
            uint32_t code, low;
            if (!hex4(p->at, p->end, &code) || code == 0) return 0;
            p->at += 4;
            if (code >= 0xDC00 && code <= 0xDFFF) return 0;
            if (code >= 0xD800 && code <= 0xDBFF) {
                if (p->end - p->at < 6 || p->at[0] != '\\' || p->at[1] != 'u' ||
                    !hex4(p->at + 2, p->end, &low) || low < 0xDC00 || low > 0xDFFF)
                    return 0;
                p->at += 6;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            if (!put_utf8(out, code)) return 0;
            continue;
        }
        default: return 0;
        }
        if (!bytes_put(out, &byte, 1)) return 0;
    }
}

/* text[0:length] as jsonb prints a string, quotes included (escape_json). */
static int put_json_string(Bytes *out, const unsigned char *text, size_t length) {
    static const char hex[] = "0123456789abcdef";
    if (!bytes_reserve(out, 6 * length + 2)) return 0;
    unsigned char *to = out->data + out->length;
    *to++ = '"';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = text[i];
        switch (c) {
        case '\b': *to++ = '\\'; *to++ = 'b'; break;
        case '\f': *to++ = '\\'; *to++ = 'f'; break;
        case '\n': *to++ = '\\'; *to++ = 'n'; break;
        case '\r': *to++ = '\\'; *to++ = 'r'; break;
        case '\t': *to++ = '\\'; *to++ = 't'; break;
        case '"': *to++ = '\\'; *to++ = '"'; break;
        case '\\': *to++ = '\\'; *to++ = '\\'; break;
        default:
            if (c < 0x20) {
                memcpy(to, "\\u00", 4);
                to[4] = (unsigned char)hex[c >> 4];
                to[5] = (unsigned char)hex[c & 15];
                to += 6;
            } else {
                *to++ = c;
            }
        }
    }
    *to++ = '"';
    out->length = (size_t)(to - out->data);
    return 1;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A number with an exponent as numeric prints it: the digits (integer ones, then fraction
 * ones) with the point moved by the exponent, and as many fraction digits as the text had less
 * the exponent (none below zero); the integer part without leading zeros, 0 when empty. */
static int put_scaled(Bytes *out, int negative, const unsigned char *whole, size_t whole_length,
                      const unsigned char *fraction, size_t fraction_length, long exponent) {
    long point = (long)whole_length + exponent; /* where the point falls among the digits */
    long digits = (long)(whole_length + fraction_length);
    long scale = (long)fraction_length - exponent;
    if (scale < 0) scale = 0;
    if (!bytes_reserve(out, (size_t)(digits + labs(exponent) + 4))) return 0;
    unsigned char *to = out->data + out->length;
#define DIGIT(i) ((i) < 0 || (i) >= digits ? '0' \
                  : (size_t)(i) < whole_length ? whole[(i)] : fraction[(i) - (long)whole_length])
    if (negative) *to++ = '-';
    long first = 0; /* the first integer digit printed: leading zeros skipped */
    while (first < point - 1 && DIGIT(first) == '0') first++;
    if (point <= 0) *to++ = '0';
    for (long i = first; i < point; i++) *to++ = (unsigned char)DIGIT(i);
    if (scale > 0) *to++ = '.';
    for (long i = 0; i < scale; i++) *to++ = (unsigned char)DIGIT(point + i);
#undef DIGIT
    out->length = (size_t)(to - out->data);
    return 1;
}

/* A JSON number as numeric prints it: as it is without an exponent, else put_scaled; a
 * negative zero (numeric has no sign for zero), or an exponent beyond +-1000, refused. */
static int copy_number(Parser *p, Bytes *out) {
    const unsigned char *start = p->at, *whole, *fraction = NULL;
    size_t whole_length, fraction_length = 0;
    int nonzero = 0, negative = 0;
    if (p->at < p->end && *p->at == '-') p->at++, negative = 1;
    if (p->at >= p->end || !is_digit(*p->at)) return 0;
    whole = p->at;
    if (*p->at == '0') {
        p->at++;
    } else {
        while (p->at < p->end && is_digit(*p->at)) p->at++;
        nonzero = 1;
    }
    whole_length = (size_t)(p->at - whole);
    if (p->at < p->end && *p->at == '.') {
        fraction = ++p->at;
        if (p->at >= p->end || !is_digit(*p->at)) return 0;
        while (p->at < p->end && is_digit(*p->at)) nonzero |= *p->at++ != '0';
        fraction_length = (size_t)(p->at - fraction);
    }
    if (negative && !nonzero) return 0;
    if (p->at >= p->end || (*p->at != 'e' && *p->at != 'E'))
        return bytes_put(out, start, (size_t)(p->at - start));
    p->at++;
    int exponent_negative = 0;
    if (p->at < p->end && (*p->at == '+' || *p->at == '-')) exponent_negative = *p->at++ == '-';
    if (p->at >= p->end || !is_digit(*p->at)) return 0;
    long exponent = 0;
    while (p->at < p->end && is_digit(*p->at)) {
        exponent = 10 * exponent + (*p->at++ - '0');
        if (exponent > 1000) return 0;
    }
    return put_scaled(out, negative, whole, whole_length, fraction, fraction_length,
                      exponent_negative ? -exponent : exponent);
}

static int copy_literal(Parser *p, Bytes *out, const char *word) {
    size_t length = strlen(word);
    if ((size_t)(p->end - p->at) < length || memcmp(p->at, word, length) != 0) return 0;
    p->at += length;
    return bytes_put(out, word, length);
}

static int render(Parser *p, int depth);

static int push_member(JsonbScratch *scratch, Member member) {
    if (scratch->members_used == scratch->members_capacity) {
        size_t capacity = scratch->members_capacity ? 2 * scratch->members_capacity : 64;
        Member *members = realloc(scratch->members, capacity * sizeof(Member));
        if (members == NULL) return 0;
        scratch->members = members;
        scratch->members_capacity = capacity;
    }
    ((Member *)scratch->members)[scratch->members_used++] = member;
    return 1;
}

/* jsonb's key order (shorter first, then bytewise), then the order given: a before b */
static int member_before(const unsigned char *arena, const Member *a, const Member *b) {
    if (a->key_length != b->key_length) return a->key_length < b->key_length;
    int bytes = memcmp(arena + a->key_at, arena + b->key_at, a->key_length);
    return bytes != 0 ? bytes < 0 : a->order < b->order;
}

/* A stable merge sort (qsort takes no context without a global, and this runs in threads). */
static int sort_members(const unsigned char *arena, Member *members, size_t count) {
    if (count < 16) {
        for (size_t i = 1; i < count; i++) {
            Member member = members[i];
            size_t j = i;
            for (; j > 0 && member_before(arena, &member, &members[j - 1]); j--)
                members[j] = members[j - 1];
            members[j] = member;
        }
        return 1;
    }
    Member *merged = malloc(count * sizeof(Member));
    if (merged == NULL) return 0;
    size_t half = count / 2;
    if (!sort_members(arena, members, half) ||
        !sort_members(arena, members + half, count - half)) {
        free(merged);
        return 0;
    }
    size_t left = 0, right = half, to = 0;
    while (left < half && right < count)
        merged[to++] = member_before(arena, &members[right], &members[left]) ? members[right++]
                                                                             : members[left++];
    while (left < half) merged[to++] = members[left++];
    while (right < count) merged[to++] = members[right++];
    memcpy(members, merged, count * sizeof(Member));
    free(merged);
    return 1;
}

static int same_key(const unsigned char *arena, const Member *a, const Member *b) {
    return a->key_length == b->key_length &&
           memcmp(arena + a->key_at, arena + b->key_at, a->key_length) == 0;
}

/* An object at p->at, rendered at the arena's end (what it was rendered from taken back). */
static int render_object(Parser *p, int depth) {
    Bytes *arena = &p->scratch->arena;
    size_t start = arena->length, first = p->scratch->members_used, order = 0;
    p->at++;
    skip_space(p);
    if (p->at < p->end && *p->at == '}') {
        p->at++;
        return bytes_put(arena, "{}", 2);
    }
    for (;;) {
        Member member = {.key_at = arena->length, .order = order++};
        if (!decode_string(p, arena)) return 0;
        member.key_length = arena->length - member.key_at;
        skip_space(p);
        if (p->at >= p->end || *p->at != ':') return 0;
        p->at++;
        member.value_at = arena->length;
        if (!render(p, depth + 1)) return 0;
        member.value_length = arena->length - member.value_at;
        if (!push_member(p->scratch, member)) return 0;
        skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            skip_space(p);
            continue;
        }
        if (p->at < p->end && *p->at == '}') {
            p->at++;
            break;
        }
        return 0;
    }
    Member *members = (Member *)p->scratch->members + first;
    size_t count = p->scratch->members_used - first;
    if (!sort_members(arena->data, members, count)) return 0;
    size_t printed = arena->length;
    if (!bytes_put(arena, "{", 1)) return 0;
    for (size_t i = 0; i < count; i++) {
        if (i + 1 < count && same_key(arena->data, &members[i], &members[i + 1])) continue;
        if (arena->length > printed + 1 && !bytes_put(arena, ", ", 2)) return 0;
        if (!bytes_reserve(arena, 6 * members[i].key_length + 4 + members[i].value_length))
            return 0;
        /* the arena holds the key's bytes: room was made first, so they do not move */
        if (!put_json_string(arena, arena->data + members[i].key_at, members[i].key_length))
            return 0;
        memcpy(arena->data + arena->length, ": ", 2);
        arena->length += 2;
        memcpy(arena->data + arena->length, arena->data + members[i].value_at,
               members[i].value_length);
        arena->length += members[i].value_length;
    }
    if (!bytes_put(arena, "}", 1)) return 0;
    memmove(arena->data + start, arena->data + printed, arena->length - printed);
    arena->length = start + (arena->length - printed);
    p->scratch->members_used = first;
    return 1;
}

static int render_array(Parser *p, int depth) {
    Bytes *arena = &p->scratch->arena;
    p->at++;
    skip_space(p);
    if (!bytes_put(arena, "[", 1)) return 0;
    if (p->at < p->end && *p->at == ']') {
        p->at++;
        return bytes_put(arena, "]", 1);
    }
    for (;;) {
        if (!render(p, depth + 1)) return 0;
        skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            if (!bytes_put(arena, ", ", 2)) return 0;
            continue;
        }
        if (p->at < p->end && *p->at == ']') {
            p->at++;
            return bytes_put(arena, "]", 1);
        }
        return 0;
    }
}

/* The value at p->at (spaces before it skipped), rendered at the arena's end. */
static int render(Parser *p, int depth) {
    if (depth > JSONB_TEXT_DEPTH) return 0;
    skip_space(p);
    if (p->at >= p->end) return 0;
    Bytes *arena = &p->scratch->arena;
    switch (*p->at) {
    case '{': return render_object(p, depth);
    case '[': return render_array(p, depth);
    case '"': {
        Bytes *decoded = &p->scratch->decoded;
        decoded->length = 0;
        return decode_string(p, decoded) &&
               put_json_string(arena, decoded->data, decoded->length);
    }
    case 't': return copy_literal(p, arena, "true");
    case 'f': return copy_literal(p, arena, "false");
    case 'n': return copy_literal(p, arena, "null");
    default: return copy_number(p, arena);
    }
}

/* The whole of json[0:length] rendered: the arena then holds its jsonb text. */
static int render_whole(const unsigned char *json, size_t length, JsonbScratch *scratch) {
    Parser parser = {json, json + length, scratch};
    scratch->arena.length = 0;
    scratch->members_used = 0;
    if (!render(&parser, 0)) return 0;
    skip_space(&parser);
    return parser.at == parser.end;
}

int jsonb_text(const unsigned char *json, size_t length, JsonbScratch *scratch, Bytes *out) {
    out->length = 0;
    return render_whole(json, length, scratch) &&
           bytes_put(out, scratch->arena.data, scratch->arena.length);
}

/* A COPY text field as its text: the load's escapes undone (0 for any other escape). */
static int copy_unescape(const unsigned char *field, size_t length, Bytes *out) {
    out->length = 0;
    if (!bytes_reserve(out, length)) return 0;
    unsigned char *to = out->data;
    for (size_t i = 0; i < length; i++) {
        if (field[i] != '\\') {
            *to++ = field[i];
            continue;
        }
        if (++i == length) return 0;
        switch (field[i]) {
        case '\\': *to++ = '\\'; break;
        case 't': *to++ = '\t'; break;
        case 'n': *to++ = '\n'; break;
        case 'r': *to++ = '\r'; break;
        case 'b': *to++ = '\b'; break;
        case 'f': *to++ = '\f'; break;
        case 'v': *to++ = '\v'; break;
        default: return 0;
        }
    }
    out->length = (size_t)(to - out->data);
    return 1;
}

int jsonb_field_text(const unsigned char *field, size_t length, JsonbScratch *scratch,
                     Bytes *out) {
    if (length == 2 && field[0] == '\\' && field[1] == 'N') return bytes_put(out, "\\N", 2);
    return copy_unescape(field, length, &scratch->json) &&
           render_whole(scratch->json.data, scratch->json.length, scratch) &&
           bytes_put(out, scratch->arena.data, scratch->arena.length);
}
