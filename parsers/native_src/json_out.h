/* JSON output for the compiled fast path: a growable buffer, and strings, integers and
 * raw bytes written as orjson writes them. Only ASCII text reaches here (the encoder hands
 * other lines back to Python), so escaping covers the controls, '"' and the backslash: \" \\
 * \b \f \n \r \t, other controls as \u00xx. Included by _fastscan.c only.
 */
#ifndef LOGSHIP_JSON_OUT_H
#define LOGSHIP_JSON_OUT_H

#include "fastscan.h"

typedef struct {
    char *data;
    Py_ssize_t used, size;
    PyObject *bytes; /* set: `data` is this bytes object's, resized with the GIL of `gil` (the
                        chunk's output is handed to Python as it is, not copied) */
    Gil *gil;
} Buffer;

/* Grows a bytes-backed buffer to `size`: the GIL is taken for the resize. -1 with an
   exception set (and no bytes left) when out of memory. */
static int __attribute__((noinline, cold)) grow_bytes(Buffer *b, Py_ssize_t size) {
    gil_take(b->gil);
    int failed = _PyBytes_Resize(&b->bytes, size);
    gil_drop(b->gil);
    if (failed < 0) {
        b->data = NULL, b->used = b->size = 0;
        return -1;
    }
    b->data = PyBytes_AS_STRING(b->bytes);
    b->size = size;
    return 0;
}

static inline int reserve(Buffer *b, Py_ssize_t more) {
    if (b->used + more <= b->size)
        return 0;
    Py_ssize_t size = b->size ? b->size : 1 << 16;
    while (size < b->used + more)
        size *= 2;
    if (b->bytes != NULL)
        return grow_bytes(b, size);
    char *data = PyMem_RawRealloc(b->data, (size_t)size); /* the GIL may be released */
    if (data == NULL)
        return -1; /* no exception set: see Gil */
    b->data = data;
    b->size = size;
    return 0;
}


/* 0: as is; 1: two-character escape; 2: \u00xx */
static uint8_t ESCAPE[128];
static char SHORT[128];
static const char HEX[] = "0123456789abcdef";

static void init_tables(void) {
    for (int c = 0; c < 32; c++)
        ESCAPE[c] = 2;
    ESCAPE['"'] = 1, SHORT['"'] = '"';
    ESCAPE['\\'] = 1, SHORT['\\'] = '\\';
    ESCAPE['\b'] = 1, SHORT['\b'] = 'b';
    ESCAPE['\f'] = 1, SHORT['\f'] = 'f';
    ESCAPE['\n'] = 1, SHORT['\n'] = 'n';
    ESCAPE['\r'] = 1, SHORT['\r'] = 'r';
    ESCAPE['\t'] = 1, SHORT['\t'] = 't';
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Non-zero when one of 8 ASCII bytes is a control character, '"' or a backslash (the
   classic has-zero-byte test on v, v ^ '"' and v ^ '\\'; a borrow can only flag bytes above
   a flagged one, and a flagged block is then looked at byte by byte). */
static inline uint64_t special8(const uint8_t *s) {
    uint64_t v;
    memcpy(&v, s, 8);
    uint64_t quote = v ^ (ONES * '"'), slash = v ^ (ONES * '\\');
    return (((v - ONES * 0x20) & ~v) | ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash)) &
           HIGHS;
}

/* The quoted JSON string of ASCII `s`; room for 6 * n + 2 bytes must be reserved. */
static inline void put_string(Buffer *b, const uint8_t *s, Py_ssize_t n) {
    char *out = b->data + b->used;
    *out++ = '"';
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* eight plain bytes at a time (most text needs no escape at all) */
        while (i + 8 <= n && !special8(s + i))
            i += 8;
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (!ESCAPE[c])
            continue;
        memcpy(out, s + run, (size_t)(i - run));
        out += i - run;
        run = i + 1;
        *out++ = '\\';
        if (ESCAPE[c] == 1) {
            *out++ = SHORT[c];
        } else {
            *out++ = 'u', *out++ = '0', *out++ = '0';
            *out++ = HEX[c >> 4], *out++ = HEX[c & 15];
        }
    }
    memcpy(out, s + run, (size_t)(n - run));
    out += n - run;
    *out++ = '"';
    b->used = out - b->data;
}

static inline void put_bytes(Buffer *b, const char *s, Py_ssize_t n) {
    memcpy(b->data + b->used, s, (size_t)n);
    b->used += n;
}

/* Digits of an integer Python's int() reads the same way; 0 when it must be left to Python. */
static inline int put_int(Buffer *b, const uint8_t *s, Py_ssize_t n) {
    if (n == 0 || n > 18)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    while (n > 1 && s[0] == '0')
        s++, n--;
    put_bytes(b, (const char *)s, n);
    return 1;
}

static inline void put_long(Buffer *b, long long v) {
    char digits[24];
    int n = 0;
    if (v == 0)
        digits[n++] = '0';
    while (v > 0) {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    char *out = b->data + b->used;
    while (n > 0)
        *out++ = digits[--n];
    b->used = out - b->data;
}

#endif
