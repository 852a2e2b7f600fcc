/* hashtextextended(text, seed) and hashint8extended(value, seed) without Postgres: Bob
 * Jenkins' lookup3 hash (public domain), as Postgres applies it to a text's bytes (its
 * hash_bytes_extended) and to a 32-bit word (hash_uint32_extended): the three 32-bit words
 * start at 0x9e3779b9 + length + 3923095; a non-zero seed is added (its high half to a, its
 * low half to b) and mixed; each 12 bytes (little-endian words) are
 * added and mixed; the last 0 to 11 bytes are added (byte i of a word at bits 8 * i, except
 * that a 9- to 11-byte tail fills c from its second byte up), then the final mix; the result
 * is b in the high 32 bits, c in the low. tests/sqlite_to_pg/test_jsonb_printed.py and
 * test_row_hash.py check it against Postgres across every tail length and with seeds. */
#include "text_hash.h"

static inline uint32_t rotate(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

#define MIX(a, b, c)                                                                           \
    {                                                                                          \
        a -= c; a ^= rotate(c, 4); c += b;                                                     \
        b -= a; b ^= rotate(a, 6); a += c;                                                     \
        c -= b; c ^= rotate(b, 8); b += a;                                                     \
        a -= c; a ^= rotate(c, 16); c += b;                                                    \
        b -= a; b ^= rotate(a, 19); a += c;                                                    \
        c -= b; c ^= rotate(b, 4); b += a;                                                     \
    }

#define FINAL(a, b, c)                                                                         \
    {                                                                                          \
        c ^= b; c -= rotate(b, 14);                                                            \
        a ^= c; a -= rotate(c, 11);                                                            \
        b ^= a; b -= rotate(a, 25);                                                            \
        c ^= b; c -= rotate(b, 16);                                                            \
        a ^= c; a -= rotate(c, 4);                                                             \
        b ^= a; b -= rotate(a, 14);                                                            \
        c ^= b; c -= rotate(b, 24);                                                            \
    }

static inline uint32_t word(const unsigned char *at) {
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16) |
           ((uint32_t)at[3] << 24);
}

#define SEEDED(a, b, c, seed)                                                                  \
    if ((seed) != 0) {                                                                         \
        a += (uint32_t)((seed) >> 32);                                                         \
        b += (uint32_t)(seed);                                                                 \
        MIX(a, b, c);                                                                          \
    }

uint64_t text_hash(const unsigned char *text, size_t length) {
    return text_hash_seeded(text, length, 0);
}

uint64_t int8_hash(int64_t value, uint64_t seed) {
    uint32_t low = (uint32_t)value, high = (uint32_t)((uint64_t)value >> 32);
    low ^= value >= 0 ? high : ~high;
    uint32_t a, b, c;
    a = b = c = 0x9e3779b9u + 4u + 3923095u;
    SEEDED(a, b, c, seed);
    a += low;
    FINAL(a, b, c);
    return ((uint64_t)b << 32) | c;
}

uint64_t text_hash_seeded(const unsigned char *text, size_t length, uint64_t seed) {
    uint32_t a, b, c;
    a = b = c = 0x9e3779b9u + (uint32_t)length + 3923095u;
    SEEDED(a, b, c, seed);
    size_t left = length;
    while (left >= 12) {
        a += word(text);
        b += word(text + 4);
        c += word(text + 8);
        MIX(a, b, c);
        text += 12;
        left -= 12;
    }
    switch (left) {
    case 11: c += (uint32_t)text[10] << 24; /* fall through */
    case 10: c += (uint32_t)text[9] << 16;  /* fall through */
    case 9: c += (uint32_t)text[8] << 8;    /* fall through */
    case 8: b += (uint32_t)text[7] << 24;   /* fall through */
    case 7: b += (uint32_t)text[6] << 16;   /* fall through */
    case 6: b += (uint32_t)text[5] << 8;    /* fall through */
    case 5: b += text[4];                   /* fall through */
    case 4: a += (uint32_t)text[3] << 24;   /* fall through */
    case 3: a += (uint32_t)text[2] << 16;   /* fall through */
    case 2: a += (uint32_t)text[1] << 8;    /* fall through */
    case 1: a += text[0];
    }
    FINAL(a, b, c);
    return ((uint64_t)b << 32) | c;
}
