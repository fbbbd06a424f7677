/* parsers._fastscan: a chunk of ASCII lines scanned and encoded to NDJSON in one C loop.
 *
 * The optional compiled half of the fast path (parsers/native_chunk.py holds the Python side
 * and the fallback). An Encoder is made once per parser chain from:
 *   - a scan program (parsers/scan_program.py): literals, greedy runs of a character class,
 *     group marks and `$`, for patterns that never backtrack;
 *   - a record template (parsers/record_template.py): the exact bytes the Python fast loop
 *     writes for a record, cut into literal pieces and values (a group as a JSON string or an
 *     integer, a cached timestamp, a normalised level, the line, the chunk's read time, the
 *     line's offset, the chunk's log.file object);
 *   - the rule's timestamp cache (a dict from the raw text to the formatted string) and its
 *     timestamp parser, called on a miss as the Python loop calls it (it fills the cache);
 *   - the rule's level normaliser (a dict whose __missing__ computes unknown levels).
 * Encoder.encode(texts, starts, default_time, log_file) returns (bytes, misses): the NDJSON of
 * every line it could do, and (index, position) of each line it left to Python (not ASCII, no
 * match, a value it cannot write the way Python would: a non-digit or long integer, a timestamp
 * not in the cache), so the caller writes those in their place.
 * This file runs the program and the template; native_src/ holds the shared declarations
 * (fastscan.h), the JSON writers (json_out.h), the per-call lookups (lookups.h), the loading
 * of programs and templates (program.c) and the splitting of ASCII chunks into lines (lines.c).
 * JSON strings are escaped as orjson escapes them (\" \\ \b \f \n \r \t, other controls as
 * \u00xx); only ASCII lines are taken, so no other byte needs care.
 */
#include "native_src/fastscan.h"
#include "native_src/json_out.h"
#include "native_src/select.h"
#include "native_src/rule_table.h"
#include "native_src/lookups.h"

/* Runs the program on `s`; fills spans[2g], spans[2g+1]; 1 on a match. */
static int scan(const Encoder *e, const uint8_t *s, Py_ssize_t n, Py_ssize_t *spans) {
    Py_ssize_t pos = 0;
    for (Py_ssize_t k = 0; k < e->nops; k++) {
        const Op *op = &e->ops[k];
        switch (op->kind) {
        case OP_LIT:
            if (n - pos < op->len || memcmp(s + pos, op->bytes, (size_t)op->len) != 0)
                return 0;
            pos += op->len;
            break;
        case OP_RUN: {
            Py_ssize_t limit = op->max < 0 || op->max > n - pos ? n - pos : op->max;
            Py_ssize_t count = 0;
            if (op->stop >= 0) {
                const uint8_t *hit = memchr(s + pos, op->stop, (size_t)limit);
                count = hit == NULL ? limit : hit - (s + pos);
            } else {
                const uint8_t *in = op->in;
                while (count < limit && in[s[pos + count]])
                    count++;
            }
            if (count < op->min)
                return 0;
            pos += count;
            break;
        }
        case OP_OPEN:
            spans[2 * op->group] = pos;
            break;
        case OP_CLOSE:
            spans[2 * op->group + 1] = pos;
            break;
        case OP_END:
            if (!(pos == n || (pos == n - 1 && s[pos] == '\n')))
                return 0;
            break;
        }
    }
    return 1;
}

/* One record; 0 when the line must be left to Python (the buffer is then rewound). */
static int encode_line(Encoder *e, Call *call, Buffer *b, PyObject *line, const uint8_t *s,
                       Py_ssize_t n, long long offset, const char *time, Py_ssize_t time_len,
                       const char *file, Py_ssize_t file_len, Py_ssize_t *spans) {
    if (!scan(e, s, n, spans))
        return 0;
    Py_ssize_t start = b->used;
    for (Py_ssize_t k = 0; k < e->npieces; k++) {
        const Piece *p = &e->pieces[k];
        Py_ssize_t from = p->group > 0 ? spans[2 * p->group] : 0;
        Py_ssize_t to = p->group > 0 ? spans[2 * p->group + 1] : 0;
        switch (p->kind) {
        case P_LIT:
            put_bytes(b, p->bytes, p->len);
            break;
        case P_STR:
            put_string(b, s + from, to - from);
            break;
        case P_INT:
            if (!put_int(b, s + from, to - from)) {
                b->used = start;
                return 0;
            }
            break;
        case P_TS:
        case P_LEVEL: {
            int done = put_looked_up(e, call, b, line, s, from, to, p->kind == P_TS);
            if (done <= 0) {
                b->used = start;
                return done;
            }
            break;
        }
        case P_LINE:
            put_string(b, s, n);
            break;
        case P_TIME:
            put_bytes(b, time, time_len);
            break;
        case P_OFFSET:
            put_long(b, offset);
            break;
        case P_FILE:
            put_bytes(b, file, file_len);
            break;
        }
    }
    return 1;
}

/* The conditions of `sel` that hold for the line just encoded (its record at out[from:to]),
   each counted; -1 on error (an exception set, or none when out of memory). */
static int select_line(Selector *sel, Gil *gil, Counts *counts, const uint8_t *s,
                       const Py_ssize_t *spans, Py_ssize_t from, Py_ssize_t to) {
    uint64_t bits;
    if (selector_conditions(sel, gil, s, spans, &bits) < 0)
        return -1;
    if (sel->nconds < 64)
        bits &= (1ULL << sel->nconds) - 1;
    for (; bits; bits &= bits - 1)
        if (counts_add(counts, sel, __builtin_ctzll(bits), s, spans, from, to) < 0)
            return -1;
    return 0;
}

/* A line of a chunk as the loop reads it: n < 0 when it is left to Python. */
typedef struct {
    const uint8_t *s;
    Py_ssize_t n;
    long long offset;
} Line;

/* The chunk's lines, checked with the GIL held, and in `*text` the length of those the loop
   takes; NULL on error. */
static Line *chunk_lines(PyObject *texts, PyObject *starts, Py_ssize_t count, Py_ssize_t *text) {
    Line *lines = PyMem_RawMalloc((size_t)(count ? count : 1) * sizeof(Line));
    if (lines == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *line = PyList_GET_ITEM(texts, i), *start = PyList_GET_ITEM(starts, i);
        lines[i].n = -1;
        if (!PyUnicode_CheckExact(line) || !PyUnicode_IS_ASCII(line) || !PyLong_CheckExact(start))
            continue;
        long long offset = PyLong_AsLongLong(start);
        if (offset == -1 && PyErr_Occurred()) {
            PyMem_RawFree(lines);
            return NULL;
        }
        if (offset < 0)
            continue; /* never from a file; put_long writes only what is >= 0 */
        lines[i] = (Line){PyUnicode_1BYTE_DATA(line), PyUnicode_GET_LENGTH(line), offset};
        *text += lines[i].n;
    }
    return lines;
}

/* The (index, position) of each line left to Python, as a list; NULL on error. */
static PyObject *misses_list(const Py_ssize_t *misses, Py_ssize_t n) {
    PyObject *list = PyList_New(n);
    for (Py_ssize_t k = 0; list != NULL && k < n; k++) {
        PyObject *miss = Py_BuildValue("(nn)", misses[2 * k], misses[2 * k + 1]);
        if (miss == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, k, miss);
    }
    return list;
}

/* The encode loop, run with the GIL released (`call->gil`); -1 on error (an exception set, or
   none when out of memory). */
static int encode_lines(Encoder *e, Call *call, Selector *sel, PyObject *held, const Line *lines,
                        Py_ssize_t count, const char *time, Py_ssize_t time_len,
                        const char *file, Py_ssize_t file_len, Buffer *b, Counts *counts,
                        Buffer *misses) {
    Py_ssize_t *spans = PyMem_RawCalloc((size_t)(2 * (e->groups + 1)), sizeof(Py_ssize_t));
    if (spans == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        const Line *ln = &lines[i];
        int done = 0;
        if (ln->n >= 0) {
            /* every piece fits: escaped copies of the line, numbers, the chunk's values */
            if (reserve(b, e->fixed + e->strings * (6 * ln->n + 2) +
                               e->others * (24 + time_len + file_len)) < 0)
                goto fail;
            Py_ssize_t from = b->used;
            done = encode_line(e, call, b, PyList_GET_ITEM(held, i), ln->s, ln->n, ln->offset,
                               time, time_len, file, file_len, spans);
            if (done < 0 || (done && sel != NULL &&
                             select_line(sel, &call->gil, counts, ln->s, spans, from,
                                         b->used) < 0))
                goto fail;
        }
        if (!done) {
            if (reserve(misses, 2 * (Py_ssize_t)sizeof(Py_ssize_t)) < 0)
                goto fail;
            Py_ssize_t miss[2] = {i, b->used};
            put_bytes(misses, (const char *)miss, sizeof miss);
        }
    }
    PyMem_RawFree(spans);
    return 0;
fail:
    PyMem_RawFree(spans);
    return -1;
}

static PyObject *Encoder_encode(Encoder *e, PyObject *args) {
    PyObject *texts, *starts, *selector = Py_None, *default_time = Py_None;
    const char *time, *file;
    Py_ssize_t time_len, file_len;
    if (!PyArg_ParseTuple(args, "O!O!y#y#|OO", &PyList_Type, &texts, &PyList_Type, &starts,
                          &time, &time_len, &file, &file_len, &selector, &default_time))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(texts);
    if (PyList_GET_SIZE(starts) != count) {
        PyErr_SetString(PyExc_ValueError, "texts and starts differ in length");
        return NULL;
    }
    Selector *sel = NULL;
    if (selector != Py_None) {
        if (!PyObject_TypeCheck(selector, &SelectorType) || !PyUnicode_Check(default_time) ||
            selector_max_group((Selector *)selector) > e->groups) {
            PyErr_SetString(PyExc_ValueError, "a Selector of this rule's groups and a str time");
            return NULL;
        }
        sel = (Selector *)selector;
    }
    if (e->busy || (sel != NULL && sel->busy)) {
        PyErr_SetString(PyExc_RuntimeError, "the Encoder or Selector is in use by another thread");
        return NULL;
    }
    /* The lines are held by a list of our own while the GIL is released. The time and file
       bytes are held by `args`. */
    PyObject *held = PyList_GetSlice(texts, 0, count);
    if (held == NULL)
        return NULL;
    Py_ssize_t text = 0;
    Line *lines = chunk_lines(held, starts, count, &text);
    if (lines == NULL) {
        Py_DECREF(held);
        return NULL;
    }
    Call call = {{NULL}, {{0}}, {NULL, 0, 0, NULL, NULL}};
    Buffer b = {NULL, 0, 0, NULL, NULL}, misses = {NULL, 0, 0, NULL, NULL};
    Counts counts = {0};
    PyObject *result = NULL;
    /* The records are written into the bytes object handed back (no copy of ~300 KB a chunk
       at the end), sized for the usual record of a line: its fixed pieces, the line's text
       twice (the message and the groups' values), the chunk's values. It grows (with the
       GIL) when escapes need more, and is cut to size at the end. */
    b.bytes = PyBytes_FromStringAndSize(
        NULL, 2 * text + count * (e->fixed + e->others * (24 + time_len + file_len)) + (1 << 16));
    if (b.bytes == NULL)
        goto done;
    b.data = PyBytes_AS_STRING(b.bytes), b.size = PyBytes_GET_SIZE(b.bytes), b.gil = &call.gil;
    e->busy = 1;
    if (sel != NULL)
        sel->busy = 1;
    /* The loop is C but for rare lookups: other threads (the sinks) run meanwhile. */
    gil_drop(&call.gil);
    int failed = encode_lines(e, &call, sel, held, lines, count, time, time_len, file,
                              file_len, &b, &counts, &misses);
    gil_take(&call.gil);
    e->busy = 0;
    if (sel != NULL)
        sel->busy = 0;
    if (failed < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    PyObject *out = _PyBytes_Resize(&b.bytes, b.used) < 0 ? NULL : b.bytes;
    b.bytes = NULL; /* now `out`'s (or freed by the failed resize) */
    PyObject *missed = misses_list((const Py_ssize_t *)misses.data,
                                   misses.used / (Py_ssize_t)(2 * sizeof(Py_ssize_t)));
    PyObject *counted = NULL;
    if (sel != NULL && out != NULL && missed != NULL)
        counted = count_set_new(&counts, sel, out, e->cache, e->parse, default_time);
    if (out != NULL && missed != NULL && sel == NULL)
        result = PyTuple_Pack(2, out, missed);
    else if (out != NULL && missed != NULL && counted != NULL)
        result = PyTuple_Pack(3, out, missed, counted);
    Py_XDECREF(out);
    Py_XDECREF(missed);
    Py_XDECREF(counted);
done:
    counts_free(&counts);
    Py_XDECREF(b.bytes);
    PyMem_RawFree(misses.data);
    PyMem_RawFree(call.arena.data);
    PyMem_RawFree(lines);
    Py_DECREF(held);
    return result;
}

static int Encoder_init(Encoder *e, PyObject *args, PyObject *kwds) {
    PyObject *program, *template, *cache, *parse, *levels;
    int groups;
    static char *names[] = {"program", "template", "groups", "cache", "parse", "levels", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!iO!OO!", names, &PyTuple_Type, &program,
                                     &PyTuple_Type, &template, &groups, &PyDict_Type, &cache,
                                     &parse, &PyDict_Type, &levels))
        return -1;
    if (!PyCallable_Check(parse)) {
        PyErr_SetString(PyExc_TypeError, "parse must be callable");
        return -1;
    }
    if (e->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the Encoder is in use by an encode");
        return -1;
    }
    Py_CLEAR(e->cache);
    Py_CLEAR(e->parse);
    Py_CLEAR(e->levels);
    e->groups = groups; /* before loading: ops and pieces name groups up to it */
    if (fastscan_load(e, program, template) < 0)
        return -1;
    Py_INCREF(cache);
    e->cache = cache;
    Py_INCREF(parse);
    e->parse = parse;
    Py_INCREF(levels);
    e->levels = levels;
    return 0;
}

static void Encoder_dealloc(Encoder *e) {
    fastscan_free(e);
    Py_CLEAR(e->cache);
    Py_CLEAR(e->parse);
    Py_CLEAR(e->levels);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *Encoder_match(Encoder *e, PyObject *arg) {
    /* The spans of a line's groups as the scanner sees them (for tests); None: no match. */
    if (!PyUnicode_Check(arg) || !PyUnicode_IS_ASCII(arg)) {
        PyErr_SetString(PyExc_TypeError, "an ASCII str is needed");
        return NULL;
    }
    Py_ssize_t *spans = PyMem_Calloc((size_t)(2 * (e->groups + 1)), sizeof(Py_ssize_t));
    if (spans == NULL)
        return PyErr_NoMemory();
    if (!scan(e, PyUnicode_1BYTE_DATA(arg), PyUnicode_GET_LENGTH(arg), spans)) {
        PyMem_Free(spans);
        Py_RETURN_NONE;
    }
    PyObject *out = PyTuple_New(e->groups);
    for (int g = 1; out != NULL && g <= e->groups; g++) {
        PyObject *span = Py_BuildValue("(nn)", spans[2 * g], spans[2 * g + 1]);
        if (span == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, g - 1, span);
    }
    PyMem_Free(spans);
    return out;
}

static PyMethodDef Encoder_methods[] = {
    {"encode", (PyCFunction)Encoder_encode, METH_VARARGS,
     "encode(texts, starts, default_time, log_file[, selector, default_time_str]) -> (ndjson "
     "bytes, [(index, position)][, CountSet])"},
    {"match", (PyCFunction)Encoder_match, METH_O,
     "match(line) -> ((start, end) per group) or None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Encoder(program, template, groups, cache, parse, levels): see the module source.",
    .tp_methods = Encoder_methods,
    .tp_init = (initproc)Encoder_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"split_lines", fastscan_split_lines, METH_VARARGS,
     "split_lines(data, start) -> (texts, starts, longest) of ASCII data ending with a newline"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "parsers._fastscan",
    .m_doc = "Scan and encode chunks of ASCII lines (the compiled half of parsers.native_chunk).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fastscan(void) {
    init_tables();
    if (PyType_Ready(&EncoderType) < 0 || PyType_Ready(&SelectorType) < 0 ||
        PyType_Ready(&CountRecordsType) < 0 || PyType_Ready(&CountSetType) < 0 ||
        PyType_Ready(&SeedTableType) < 0 || rule_table_names() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&EncoderType);
    if (PyModule_AddObject(m, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(&EncoderType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SelectorType);
    if (PyModule_AddObject(m, "Selector", (PyObject *)&SelectorType) < 0) {
        Py_DECREF(&SelectorType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SeedTableType);
    if (PyModule_AddObject(m, "SeedTable", (PyObject *)&SeedTableType) < 0) {
        Py_DECREF(&SeedTableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

