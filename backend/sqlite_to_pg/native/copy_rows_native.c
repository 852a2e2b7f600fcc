/* The built-in loader's hot path in C (see sqlite_to_pg/native_rows.py).
 *
 * Both a Python extension module and a SQLite loadable extension:
 *
 *  - SQLite: cutover_copy_row(kinds, v1, ..., vn) gives one COPY text row, newline included,
 *    for values of the usual shapes, and NULL for a row holding any other value (the caller's
 *    SQL then builds that row the general way). kinds has one letter a value, for its
 *    converter (sqlite_to_pg.values): i integer, b boolean, t text (escaped); T, D and H
 *    timestamp, date and time text of the canonical source shape; p a field the caller's SQL
 *    already made, copied as it is.
 *    cutover_csv_row(v1, ..., vn) gives the jsonb staging's CSV rows the same way (below).
 *  - Python: line_checksum(data, apart) -> (lines, checksum): the row checksum
 *    (sqlite_to_pg.row_checksum) of the whole lines in data, each hashed without its last
 *    apart fields (row_hash.c), and the length of those lines; rows_checksum(rows), the same
 *    of a sequence of rows, each hashed as it is (a newline at its end left out);
 *    jsonb_line_checksum(data, apart, anchor), also the sum jsonb_verify compares for the
 *    jsonb fields (jsonb_text.c, text_hash.c); row_hash(row), one row's hash.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <sqlite3ext.h>

#include "jsonb_text.h"
#include "row_hash.h"
#include "text_hash.h"
SQLITE_EXTENSION_INIT1

/* ---- Python: line_checksum, jsonb_line_checksum, jsonb_text, text_hash --------------- */

/* Where the hashed part of the row data[start:stop] ends, as reader_worker.hashed_part
 * (bytes.rsplit) cuts it: at up to apart tabs from the end; -1 for a row with no tab at all,
 * which is hashed whole, its newline included. */
static Py_ssize_t hashed_end(const unsigned char *data, Py_ssize_t start, Py_ssize_t stop,
                             int apart) {
    Py_ssize_t hashed = stop;
    for (int cut = 0; cut < apart; cut++) {
        Py_ssize_t at = hashed - 1;
        while (at >= start && data[at] != '\t') at--;
        if (at < start) return cut == 0 ? -1 : hashed;
        hashed = at;
    }
    return hashed;
}

#define MOST_ANCHOR_FIELDS 100

/* The text sqlite_to_pg/jsonb_verify.py hashes for a row (its staging's row, as Postgres
 * prints it) from the COPY row data[start:stop] (no newline) the load sends, its hashed part
 * ending at hashed (hashed_end): the anchor
 * fields (their positions in anchor, ascending) joined by tabs, then a tab and each of the
 * last apart fields (jsonb source text) as jsonb prints it (jsonb_field_text), into line;
 * 0 where a field is not of a shape jsonb_text.c handles, or the row is short of fields. */
static int apart_text(const unsigned char *data, Py_ssize_t start, Py_ssize_t hashed,
                      Py_ssize_t stop, int apart, const int *anchor, int anchors,
                      JsonbScratch *scratch, Bytes *line) {
    if (hashed < 0) return 0;
    line->length = 0;
    Py_ssize_t field_start = start;
    int field = 0, next = 0;
    while (next < anchors) { /* the anchor fields, all before the jsonb ones */
        const unsigned char *tab = memchr(data + field_start, '\t',
                                          (size_t)(hashed - field_start));
        Py_ssize_t field_end = tab ? tab - data : hashed;
        if (field == anchor[next]) {
            size_t length = (size_t)(field_end - field_start);
            if (!bytes_reserve(line, length + 1)) return 0;
            if (next > 0) line->data[line->length++] = '\t';
            memcpy(line->data + line->length, data + field_start, length);
            line->length += length;
            next++;
        }
        if (tab == NULL) break;
        field_start = field_end + 1;
        field++;
    }
    if (next < anchors) return 0;
    Py_ssize_t at = hashed;
    for (int i = 0; i < apart; i++) {
        if (at >= stop || data[at] != '\t') return 0; /* fewer fields than apart */
        at++;
        const unsigned char *tab = memchr(data + at, '\t', (size_t)(stop - at));
        Py_ssize_t end = tab ? tab - data : stop;
        if (!bytes_reserve(line, 1)) return 0;
        line->data[line->length++] = '\t';
        if (!jsonb_field_text(data + at, (size_t)(end - at), scratch, line)) return 0;
        at = end;
    }
    return at == stop;
}

/* The sums of the whole lines in data[0:size]: each line's hashed part (hashed_end) into
 * *total, and, with an anchor, each line's apart_text hashed into *apart_total (a line it
 * cannot make counted in *unusual); *lines and *used (the bytes of those lines) too. */
typedef struct {
    Py_ssize_t lines, used, unusual;
    uint64_t total, apart_total;
} LineSums;

static LineSums checksum_lines(const unsigned char *data, Py_ssize_t size, int apart,
                               const int *anchor, int anchors) {
    LineSums sums = {0};
    JsonbScratch scratch = {0};
    Bytes line = {0};
    for (;;) {
        const unsigned char *end = memchr(data + sums.used, '\n', (size_t)(size - sums.used));
        if (end == NULL) break;
        Py_ssize_t start = sums.used, stop = end - data;
        Py_ssize_t hashed = hashed_end(data, start, stop, apart);
        /* a line with no tab: its newline hashed in its last field */
        sums.total += row_hash(data + start, (size_t)((hashed < 0 ? stop + 1 : hashed) - start));
        if (anchor != NULL) {
            if (apart_text(data, start, hashed, stop, apart, anchor, anchors, &scratch, &line))
                sums.apart_total += text_hash(line.data, line.length);
            else
                sums.unusual++;
        }
        sums.lines++;
        sums.used = stop + 1;
    }
    jsonb_scratch_free(&scratch);
    free(line.data);
    return sums;
}

static PyObject *line_checksum(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int apart;
    if (!PyArg_ParseTuple(args, "y*i", &view, &apart)) return NULL;
    LineSums sums;
    Py_BEGIN_ALLOW_THREADS
    sums = checksum_lines(view.buf, view.len, apart, NULL, 0);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("nKn", sums.lines, (unsigned long long)sums.total, sums.used);
}

static PyObject *jsonb_line_checksum(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int apart, anchor[MOST_ANCHOR_FIELDS];
    PyObject *positions;
    if (!PyArg_ParseTuple(args, "y*iO", &view, &apart, &positions)) return NULL;
    PyObject *sequence = PySequence_Fast(positions, "anchor must be a sequence");
    if (sequence == NULL) goto failed;
    Py_ssize_t anchors = PySequence_Fast_GET_SIZE(sequence);
    if (anchors > MOST_ANCHOR_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "jsonb_line_checksum: too many anchor fields");
        goto failed;
    }
    for (Py_ssize_t i = 0; i < anchors; i++) {
        long position = PyLong_AsLong(PySequence_Fast_GET_ITEM(sequence, i));
        if (position == -1 && PyErr_Occurred()) goto failed;
        if (position < 0 || (i > 0 && position <= anchor[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "jsonb_line_checksum: anchor not ascending");
            goto failed;
        }
        anchor[i] = (int)position;
    }
    Py_CLEAR(sequence);
    LineSums sums;
    Py_BEGIN_ALLOW_THREADS
    sums = checksum_lines(view.buf, view.len, apart, anchor, (int)anchors);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("nKnKn", sums.lines, (unsigned long long)sums.total, sums.used,
                         (unsigned long long)sums.apart_total, sums.unusual);
failed:
    Py_XDECREF(sequence);
    PyBuffer_Release(&view);
    return NULL;
}

static PyObject *jsonb_text_of(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    JsonbScratch scratch = {0};
    Bytes text = {0};
    int done = jsonb_text(view.buf, (size_t)view.len, &scratch, &text);
    PyObject *result = done ? PyBytes_FromStringAndSize((const char *)text.data,
                                                        (Py_ssize_t)text.length)
                            : Py_NewRef(Py_None);
    jsonb_scratch_free(&scratch);
    free(text.data);
    PyBuffer_Release(&view);
    return result;
}

/* hash(bytes) of the one bytes argument, as a signed 64-bit Python integer */
static PyObject *hash_of(PyObject *args, uint64_t (*hash)(const unsigned char *, size_t)) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    uint64_t result = hash(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromLongLong((long long)result);
}

static PyObject *row_hash_of(PyObject *self, PyObject *args) {
    (void)self;
    return hash_of(args, row_hash);
}

static PyObject *text_hash_of(PyObject *self, PyObject *args) {
    (void)self;
    return hash_of(args, text_hash);
}

/* ---- Python: rows_checksum ------------------------------------------------------------ */

static PyObject *rows_checksum(PyObject *self, PyObject *rows) {
    (void)self;
    PyObject *sequence = PySequence_Fast(rows, "rows_checksum: rows must be a sequence");
    if (sequence == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    PyObject **items = PySequence_Fast_ITEMS(sequence);
    const unsigned char **texts = PyMem_Malloc(sizeof(*texts) * (size_t)(count ? count : 1));
    size_t *lengths = PyMem_Malloc(sizeof(*lengths) * (size_t)(count ? count : 1));
    if (texts == NULL || lengths == NULL) {
        PyMem_Free(texts);
        PyMem_Free(lengths);
        Py_DECREF(sequence);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(items[i])) {
            PyMem_Free(texts);
            PyMem_Free(lengths);
            Py_DECREF(sequence);
            PyErr_SetString(PyExc_TypeError, "rows_checksum: every row must be bytes");
            return NULL;
        }
        texts[i] = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        lengths[i] = (size_t)PyBytes_GET_SIZE(items[i]);
    }
    uint64_t total = 0;
    Py_BEGIN_ALLOW_THREADS /* the sequence holds every row meanwhile */
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t length = lengths[i];
        if (length > 0 && texts[i][length - 1] == '\n') length--;
        total += row_hash(texts[i], length);
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(texts);
    PyMem_Free(lengths);
    Py_DECREF(sequence);
    return Py_BuildValue("nK", count, (unsigned long long)total);
}

static PyMethodDef methods[] = {
    {"line_checksum", line_checksum, METH_VARARGS,
     "line_checksum(data, apart) -> (lines, checksum mod 2**64, bytes in those lines)"},
    {"rows_checksum", rows_checksum, METH_O,
     "rows_checksum(rows) -> (rows, checksum mod 2**64): each row (bytes) hashed as it is"},
    {"row_hash", row_hash_of, METH_VARARGS,
     "row_hash(row) -> the hash of one row's COPY text (no newline), a signed 64-bit integer"},
    {"jsonb_line_checksum", jsonb_line_checksum, METH_VARARGS,
     "jsonb_line_checksum(data, apart, anchor) -> (lines, checksum, bytes, jsonb hash sum, "
     "lines left out of it)"},
    {"jsonb_text", jsonb_text_of, METH_VARARGS,
     "jsonb_text(json) -> the text Postgres' jsonb prints for it, or None (not handled here)"},
    {"text_hash", text_hash_of, METH_VARARGS,
     "text_hash(text) -> hashtextextended(text, 0), as a signed 64-bit integer"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_copy_rows_native",
                                    "The built-in loader's hot path in C.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__copy_rows_native(void) {
    return PyModule_Create(&module);
}

/* ---- SQLite: cutover_copy_row --------------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t length, capacity;
} Buffer;

static int reserve(Buffer *buffer, size_t more) {
    if (buffer->length + more <= buffer->capacity) return 1;
    size_t capacity = buffer->capacity ? buffer->capacity : 1024;
    while (capacity < buffer->length + more) capacity *= 2;
    unsigned char *data = sqlite3_realloc64(buffer->data, capacity);
    if (data == NULL) return 0;
    buffer->data = data;
    buffer->capacity = capacity;
    return 1;
}

/* The function's result: the row in buffer, a newline added. */
static void result_line(sqlite3_context *context, Buffer *buffer) {
    if (!reserve(buffer, 1)) {
        sqlite3_result_error_nomem(context);
        return;
    }
    buffer->data[buffer->length++] = '\n';
    sqlite3_result_text64(context, (const char *)buffer->data, buffer->length, SQLITE_TRANSIENT,
                          SQLITE_UTF8);
}

static void put(Buffer *buffer, const void *bytes, size_t length) {
    memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
}

/* Starts field number index (from 0): room for a short value, the separator before it. */
static int next_field(Buffer *buffer, int index, unsigned char separator) {
    if (!reserve(buffer, 32)) return 0;
    if (index > 0) buffer->data[buffer->length++] = separator;
    return 1;
}

/* An integer value as its decimal text (as SQLite prints it); next_field made the room. */
static void put_integer(Buffer *buffer, sqlite3_value *value) {
    buffer->length += (size_t)sprintf((char *)buffer->data + buffer->length, "%lld",
                                      (long long)sqlite3_value_int64(value));
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Text of the canonical source shape of a timestamp (kind T: "dddd-dd-dd dd:dd:dd.ffffff"),
 * a date (D: "dddd-dd-dd") or a time (H: "dd:dd:dd.ffffff"), d and f ASCII digits, as
 * Postgres prints it: the fraction's trailing zeros cut, a whole second without its fraction.
 * Returns the length to send, or 0 for a value of any other shape. */
static size_t datetime_length(unsigned char kind, const unsigned char *text, size_t length) {
    const char *shape;
    size_t fraction_at;
    switch (kind) {
    case 'T': shape = "dddd-dd-dd dd:dd:dd.dddddd", fraction_at = 20; break;
    case 'H': shape = "dd:dd:dd.dddddd", fraction_at = 9; break;
    default: shape = "dddd-dd-dd", fraction_at = 0;
    }
    if (length != strlen(shape)) return 0;
    for (size_t i = 0; i < length; i++) {
        if (shape[i] == 'd' ? !is_digit(text[i]) : text[i] != (unsigned char)shape[i]) return 0;
    }
    if (fraction_at == 0) return length;
    size_t end = length;
    while (end > fraction_at && text[end - 1] == '0') end--;
    return end == fraction_at ? fraction_at - 1 : end;
}

static int put_escaped(Buffer *buffer, const unsigned char *text, size_t length) {
    if (!reserve(buffer, 2 * length)) return 0;
    unsigned char *out = buffer->data + buffer->length;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = text[i];
        switch (c) {
        case '\\': *out++ = '\\'; *out++ = '\\'; break;
        case '\t': *out++ = '\\'; *out++ = 't'; break;
        case '\n': *out++ = '\\'; *out++ = 'n'; break;
        case '\r': *out++ = '\\'; *out++ = 'r'; break;
        default: *out++ = c;
        }
    }
    buffer->length = (size_t)(out - buffer->data);
    return 1;
}

static void copy_row(sqlite3_context *context, int argc, sqlite3_value **argv) {
    Buffer *buffer = sqlite3_user_data(context);
    const unsigned char *kinds = sqlite3_value_text(argv[0]);
    if (kinds == NULL || (int)strlen((const char *)kinds) != argc - 1) {
        sqlite3_result_error(context, "cutover_copy_row: one kind a value", -1);
        return;
    }
    buffer->length = 0;
    for (int i = 1; i < argc; i++) {
        sqlite3_value *value = argv[i];
        int type = sqlite3_value_type(value);
        if (!next_field(buffer, i - 1, '\t')) goto no_memory;
        if (type == SQLITE_NULL) {
            if (kinds[i - 1] == 'p') return; /* the caller's field is never NULL */
            put(buffer, "\\N", 2);
            continue;
        }
        switch (kinds[i - 1]) {
        case 'i':
            if (type != SQLITE_INTEGER) return;
            put_integer(buffer, value);
            break;
        case 'b':
            if (type != SQLITE_INTEGER) return;
            switch (sqlite3_value_int64(value)) {
            case 0: put(buffer, "false", 5); break;
            case 1: put(buffer, "true", 4); break;
            default: return;
            }
            break;
        case 't':
            if (type == SQLITE_INTEGER) {
                put_integer(buffer, value);
            } else if (type == SQLITE_TEXT) {
                const unsigned char *text = sqlite3_value_text(value);
                size_t length = (size_t)sqlite3_value_bytes(value);
                if (text == NULL) goto no_memory;
                if (memchr(text, 0, length) != NULL) return;
                if (!put_escaped(buffer, text, length)) goto no_memory;
            } else {
                return;
            }
            break;
        case 'T':
        case 'D':
        case 'H': {
            if (type != SQLITE_TEXT) return;
            const unsigned char *text = sqlite3_value_text(value);
            size_t length = (size_t)sqlite3_value_bytes(value);
            size_t sent = text ? datetime_length(kinds[i - 1], text, length) : 0;
            if (sent == 0) return;
            put(buffer, text, sent);
            break;
        }
        case 'p': {
            const unsigned char *text = sqlite3_value_text(value);
            size_t length = (size_t)sqlite3_value_bytes(value);
            if (text == NULL) goto no_memory;
            if (!reserve(buffer, length)) goto no_memory;
            put(buffer, text, length);
            break;
        }
        default:
            sqlite3_result_error(context, "cutover_copy_row: unknown kind", -1);
            return;
        }
    }
    result_line(context, buffer);
    return;
no_memory:
    sqlite3_result_error_nomem(context);
}

/* cutover_csv_row(v1, ..., vn): one CSV row, newline included, for the jsonb staging
 * (sqlite_to_pg.jsonb_verify): each value quoted by the byte 0x01 (a 0x01 in it doubled), an
 * integer as its decimal text, NULL as the empty field; NULL for a row holding a REAL, a blob
 * or a text with a NUL byte (the caller's SQL then builds it). */
static void csv_row(sqlite3_context *context, int argc, sqlite3_value **argv) {
    Buffer *buffer = sqlite3_user_data(context);
    buffer->length = 0;
    for (int i = 0; i < argc; i++) {
        sqlite3_value *value = argv[i];
        int type = sqlite3_value_type(value);
        if (!next_field(buffer, i, ',')) goto no_memory;
        if (type == SQLITE_NULL) continue;
        if (type == SQLITE_FLOAT || type == SQLITE_BLOB) return;
        buffer->data[buffer->length++] = 0x01;
        if (type == SQLITE_INTEGER) {
            put_integer(buffer, value);
        } else {
            const unsigned char *text = sqlite3_value_text(value);
            size_t length = (size_t)sqlite3_value_bytes(value);
            if (text == NULL) goto no_memory;
            if (memchr(text, 0, length) != NULL) return;
            if (!reserve(buffer, 2 * length + 2)) goto no_memory;
            unsigned char *out = buffer->data + buffer->length;
            for (size_t at = 0; at < length; at++) {
                if (text[at] == 0x01) *out++ = 0x01;
                *out++ = text[at];
            }
            buffer->length = (size_t)(out - buffer->data);
        }
        buffer->data[buffer->length++] = 0x01;
    }
    result_line(context, buffer);
    return;
no_memory:
    sqlite3_result_error_nomem(context);
}

static void free_buffer(void *pointer) {
    Buffer *buffer = pointer;
    sqlite3_free(buffer->data);
    sqlite3_free(buffer);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_copyrowsnative_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    SQLITE_EXTENSION_INIT2(api);
    (void)error;
    static const struct {
        const char *name;
        void (*function)(sqlite3_context *, int, sqlite3_value **);
    } functions[] = {{"cutover_copy_row", copy_row}, {"cutover_csv_row", csv_row}};
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        Buffer *buffer = sqlite3_malloc(sizeof(Buffer));
        if (buffer == NULL) return SQLITE_NOMEM;
        memset(buffer, 0, sizeof(Buffer));
        int status = sqlite3_create_function_v2(db, functions[i].name, -1,
                                                SQLITE_UTF8 | SQLITE_DETERMINISTIC, buffer,
                                                functions[i].function, NULL, NULL, free_buffer);
        if (status != SQLITE_OK) return status;
    }
    return SQLITE_OK;
}
