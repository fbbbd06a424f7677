/* The timestamps and levels one Encoder.encode call looked up (parsers/_fastscan.c): the
 * dicts are asked, with the GIL taken back, once per distinct raw text and call. Included by
 * _fastscan.c only.
 */
#ifndef LOGSHIP_LOOKUPS_H
#define LOGSHIP_LOOKUPS_H

#include "fastscan.h"
#include "json_out.h"
#include "select.h"

/* The values one encode looked up (timestamps, levels), by their raw text: a chunk's lines
   share a few, so the dicts are asked once per distinct text and call, which lets the loop run
   without the GIL. Per call only: the dicts (and what their parsers remember) stay the truth. */
#define LOOKUPS 16

typedef struct {
    uint64_t hash;
    int kind, known;
    Py_ssize_t raw_at, raw_len, value_at, value_len; /* in `Call.arena` */
} Lookup;

/* What one encode call keeps besides the output: its GIL, its lookups. */
typedef struct {
    Gil gil;
    Lookup lookups[LOOKUPS];
    Buffer arena;
} Call;

/* The value of the text in [from, to) of `line` as the Python loop gets it (`_tsc.get(raw)`
   then `_tsp(raw)`; `_lvl[raw]`) into `call`'s arena: 1 with its place in `slot`, 0 when the
   line must be left to Python (no value, or not an ASCII str), -1 on an error. Takes the GIL. */
static int look_up(Encoder *e, Call *call, Lookup *slot, PyObject *line, Py_ssize_t from,
                   Py_ssize_t to, int timestamp) {
    gil_take(&call->gil);
    int done = -1;
    PyObject *key = PyUnicode_Substring(line, from, to), *value = NULL;
    if (key == NULL)
        goto out;
    PyObject *table = timestamp ? e->cache : e->levels;
    value = PyDict_GetItemWithError(table, key); /* borrowed */
    if (value != NULL && value != Py_None) {
        Py_INCREF(value);
    } else if (PyErr_Occurred()) {
        value = NULL;
        goto out;
    } else {
        /* the parser fills the cache; the normaliser's __missing__ computes and remembers. An
           exception or None leaves the line to Python, which does the same again. */
        value = timestamp ? PyObject_CallOneArg(e->parse, key) : PyObject_GetItem(table, key);
        if (value == NULL)
            PyErr_Clear();
    }
    done = 0;
    if (value == NULL || !PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value))
        goto out;
    Py_ssize_t raw_len = to - from, len = PyUnicode_GET_LENGTH(value);
    if (reserve(&call->arena, raw_len + len) < 0) {
        PyErr_NoMemory();
        done = -1;
        goto out;
    }
    Buffer *a = &call->arena;
    slot->raw_at = a->used, slot->raw_len = raw_len;
    memcpy(a->data + a->used, PyUnicode_1BYTE_DATA(line) + from, (size_t)raw_len);
    a->used += raw_len;
    slot->value_at = a->used, slot->value_len = len;
    memcpy(a->data + a->used, PyUnicode_1BYTE_DATA(value), (size_t)len);
    a->used += len;
    slot->known = 1;
    done = 1;
out:
    Py_XDECREF(key);
    Py_XDECREF(value);
    gil_drop(&call->gil);
    return done;
}

/* A cached timestamp or a normalised level of the text in [from, to) of `line` (`s`, its
   bytes) written as a JSON string; 0 when the line must be left to Python, -1 on an error. */
static int put_looked_up(Encoder *e, Call *call, Buffer *b, PyObject *line, const uint8_t *s,
                         Py_ssize_t from, Py_ssize_t to, int timestamp) {
    Py_ssize_t n = to - from;
    uint64_t h = hash_bytes(s + from, n);
    Lookup *slot = &call->lookups[(h ^ (uint64_t)timestamp) & (LOOKUPS - 1)];
    if (!(slot->known && slot->hash == h && slot->kind == timestamp && slot->raw_len == n &&
          memcmp(call->arena.data + slot->raw_at, s + from, (size_t)n) == 0)) {
        slot->known = 0;
        int done = look_up(e, call, slot, line, from, to, timestamp);
        if (done <= 0)
            return done;
        slot->hash = h, slot->kind = timestamp;
    }
    if (reserve(b, 6 * slot->value_len + 2) < 0)
        return -1;
    put_string(b, (const uint8_t *)call->arena.data + slot->value_at, slot->value_len);
    return 1;
}

#endif
