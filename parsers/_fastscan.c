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
 * JSON strings are escaped as orjson escapes them (\" \\ \b \f \n \r \t, other controls as
 * \u00xx); only ASCII lines are taken, so no other byte needs care.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { OP_LIT = 0, OP_RUN = 1, OP_OPEN = 2, OP_CLOSE = 3, OP_END = 4 };
enum {
    P_LIT = 0, P_STR = 1, P_INT = 2, P_TS = 3, P_LINE = 4, P_TIME = 5, P_OFFSET = 6, P_FILE = 7,
    P_LEVEL = 8
};

typedef struct {
    int kind;
    int group;
    Py_ssize_t min, max; /* max < 0: unbounded */
    uint8_t in[256];     /* 1 for the characters of the class (ASCII only) */
    int stop;            /* the one ASCII character outside the class, or -1 */
    char *bytes;
    Py_ssize_t len;
} Op;

typedef struct {
    int kind;
    int group;
    char *bytes;
    Py_ssize_t len;
} Piece;

typedef struct {
    PyObject_HEAD
    Op *ops;
    Py_ssize_t nops;
    Piece *pieces;
    Py_ssize_t npieces;
    int groups;
    Py_ssize_t fixed;   /* bytes of the literal pieces */
    Py_ssize_t strings; /* pieces that copy line text, escaped */
    Py_ssize_t others;  /* pieces of bounded size: numbers, the chunk's time and log.file */
    PyObject *cache;    /* dict: raw timestamp text -> formatted str (or None) */
    PyObject *parse;    /* the rule's timestamp parser: text -> str or None, fills `cache` */
    PyObject *levels;   /* the rule's level normaliser: a dict whose __missing__ computes */
} Encoder;

typedef struct {
    char *data;
    Py_ssize_t used, size;
} Buffer;

static int reserve(Buffer *b, Py_ssize_t more) {
    if (b->used + more <= b->size)
        return 0;
    Py_ssize_t size = b->size ? b->size : 1 << 16;
    while (size < b->used + more)
        size *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)size);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
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

/* A cached timestamp or a normalised level of the text in [from, to) of `line`, as the Python
   loop gets it (`_tsc.get(raw)` then `_tsp(raw)`; `_lvl[raw]`); 0 when the line must be left
   to Python (no value, or not an ASCII str), -1 on an error. */
static int put_looked_up(Encoder *e, Buffer *b, PyObject *line, Py_ssize_t from, Py_ssize_t to,
                         int timestamp) {
    PyObject *key = PyUnicode_Substring(line, from, to);
    if (key == NULL)
        return -1;
    PyObject *table = timestamp ? e->cache : e->levels;
    PyObject *value = PyDict_GetItemWithError(table, key); /* borrowed */
    if (value != NULL && value != Py_None) {
        Py_INCREF(value);
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    } else {
        /* the parser fills the cache; the normaliser's __missing__ computes and remembers. An
           exception or None leaves the line to Python, which does the same again. */
        value = timestamp ? PyObject_CallOneArg(e->parse, key) : PyObject_GetItem(table, key);
        if (value == NULL)
            PyErr_Clear();
    }
    Py_DECREF(key);
    if (value == NULL || !PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value)) {
        Py_XDECREF(value);
        return 0;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(value);
    if (reserve(b, 6 * len + 2) < 0) {
        Py_DECREF(value);
        return -1;
    }
    put_string(b, PyUnicode_1BYTE_DATA(value), len);
    Py_DECREF(value);
    return 1;
}

/* One record; 0 when the line must be left to Python (the buffer is then rewound). */
static int encode_line(Encoder *e, Buffer *b, PyObject *line, const uint8_t *s, Py_ssize_t n,
                       long long offset, const char *time, Py_ssize_t time_len, const char *file,
                       Py_ssize_t file_len, Py_ssize_t *spans) {
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
            int done = put_looked_up(e, b, line, from, to, p->kind == P_TS);
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

static PyObject *Encoder_encode(Encoder *e, PyObject *args) {
    PyObject *texts, *starts;
    const char *time, *file;
    Py_ssize_t time_len, file_len;
    if (!PyArg_ParseTuple(args, "O!O!y#y#", &PyList_Type, &texts, &PyList_Type, &starts, &time,
                          &time_len, &file, &file_len))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(texts);
    if (PyList_GET_SIZE(starts) != count) {
        PyErr_SetString(PyExc_ValueError, "texts and starts differ in length");
        return NULL;
    }
    PyObject *misses = PyList_New(0);
    if (misses == NULL)
        return NULL;
    Py_ssize_t *spans = PyMem_Calloc((size_t)(2 * (e->groups + 1)), sizeof(Py_ssize_t));
    Buffer b = {NULL, 0, 0};
    if (spans == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *line = PyList_GET_ITEM(texts, i);
        PyObject *start = PyList_GET_ITEM(starts, i);
        int done = 0;
        if (PyUnicode_CheckExact(line) && PyUnicode_IS_ASCII(line) && PyLong_CheckExact(start)) {
            long long offset = PyLong_AsLongLong(start);
            if (offset == -1 && PyErr_Occurred())
                goto fail;
            if (offset < 0)
                goto missed; /* never from a file; put_long writes only what is >= 0 */
            Py_ssize_t n = PyUnicode_GET_LENGTH(line);
            /* every piece fits: escaped copies of the line, numbers, the chunk's values */
            if (reserve(&b, e->fixed + e->strings * (6 * n + 2) +
                                e->others * (24 + time_len + file_len)) < 0)
                goto fail;
            done = encode_line(e, &b, line, PyUnicode_1BYTE_DATA(line), n, offset, time,
                               time_len, file, file_len, spans);
            if (done < 0)
                goto fail;
        }
    missed:
        if (!done) {
            PyObject *miss = Py_BuildValue("(nn)", i, b.used);
            if (miss == NULL || PyList_Append(misses, miss) < 0) {
                Py_XDECREF(miss);
                goto fail;
            }
            Py_DECREF(miss);
        }
    }
    PyMem_Free(spans);
    PyObject *out = PyBytes_FromStringAndSize(b.data ? b.data : "", b.used);
    PyMem_Free(b.data);
    if (out == NULL) {
        Py_DECREF(misses);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, out, misses);
    Py_DECREF(out);
    Py_DECREF(misses);
    return result;
fail:
    PyMem_Free(spans);
    PyMem_Free(b.data);
    Py_DECREF(misses);
    return NULL;
}

static void free_ops(Encoder *e) {
    for (Py_ssize_t k = 0; k < e->nops; k++)
        PyMem_Free(e->ops[k].bytes);
    PyMem_Free(e->ops);
    e->ops = NULL;
    for (Py_ssize_t k = 0; k < e->npieces; k++)
        PyMem_Free(e->pieces[k].bytes);
    PyMem_Free(e->pieces);
    e->pieces = NULL;
}

static char *copy_bytes(PyObject *value, Py_ssize_t *len) {
    char *data;
    if (PyBytes_AsStringAndSize(value, &data, len) < 0)
        return NULL;
    char *copy = PyMem_Malloc((size_t)(*len ? *len : 1));
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, data, (size_t)*len);
    return copy;
}

static int group_number(Encoder *e, PyObject *item, Py_ssize_t at) {
    long group = PyLong_AsLong(PyTuple_GET_ITEM(item, at));
    if (group == -1 && PyErr_Occurred())
        return -1;
    if (group < 1 || group > e->groups) {
        PyErr_SetString(PyExc_ValueError, "group number out of range");
        return -1;
    }
    return (int)group;
}

static int load_ops(Encoder *e, PyObject *program) {
    e->nops = PyTuple_GET_SIZE(program);
    e->ops = PyMem_Calloc((size_t)(e->nops ? e->nops : 1), sizeof(Op));
    if (e->ops == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < e->nops; k++) {
        PyObject *item = PyTuple_GET_ITEM(program, k);
        Op *op = &e->ops[k];
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 1) {
            PyErr_SetString(PyExc_ValueError, "an op is a non-empty tuple");
            return -1;
        }
        op->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        Py_ssize_t size = PyTuple_GET_SIZE(item);
        if (op->kind == OP_LIT && size == 2) {
            op->bytes = copy_bytes(PyTuple_GET_ITEM(item, 1), &op->len);
            if (op->bytes == NULL)
                return -1;
        } else if (op->kind == OP_RUN && size == 4) {
            char *set;
            Py_ssize_t len;
            if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(item, 1), &set, &len) < 0)
                return -1;
            if (len != 16) {
                PyErr_SetString(PyExc_ValueError, "a class is 16 bytes");
                return -1;
            }
            int outside = 0;
            op->stop = -1;
            for (int c = 0; c < 128; c++) {
                op->in[c] = (set[c >> 3] >> (c & 7)) & 1;
                if (!op->in[c])
                    outside++, op->stop = c;
            }
            if (outside != 1)
                op->stop = -1;
            op->min = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 2));
            op->max = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 3));
            if (PyErr_Occurred())
                return -1;
        } else if ((op->kind == OP_OPEN || op->kind == OP_CLOSE) && size == 2) {
            op->group = group_number(e, item, 1);
            if (op->group < 0)
                return -1;
        } else if (!(op->kind == OP_END && size == 1)) {
            PyErr_SetString(PyExc_ValueError, "unknown op");
            return -1;
        }
    }
    return 0;
}

static int load_pieces(Encoder *e, PyObject *template) {
    e->npieces = PyTuple_GET_SIZE(template);
    e->pieces = PyMem_Calloc((size_t)(e->npieces ? e->npieces : 1), sizeof(Piece));
    if (e->pieces == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < e->npieces; k++) {
        PyObject *item = PyTuple_GET_ITEM(template, k);
        Piece *p = &e->pieces[k];
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_ValueError, "a piece is a pair");
            return -1;
        }
        p->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        if (p->kind == P_LIT) {
            p->bytes = copy_bytes(PyTuple_GET_ITEM(item, 1), &p->len);
            if (p->bytes == NULL)
                return -1;
            e->fixed += p->len;
        } else if (p->kind == P_STR || p->kind == P_INT || p->kind == P_TS ||
                   p->kind == P_LEVEL) {
            p->group = group_number(e, item, 1);
            if (p->group < 0)
                return -1;
            e->strings += p->kind == P_STR;
            e->others += p->kind == P_INT;
        } else if (p->kind == P_LINE) {
            e->strings += 1;
        } else if (p->kind >= P_TIME && p->kind <= P_FILE) {
            e->others += 1;
        } else {
            PyErr_SetString(PyExc_ValueError, "unknown piece");
            return -1;
        }
    }
    return 0;
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
    free_ops(e);
    Py_CLEAR(e->cache);
    Py_CLEAR(e->parse);
    Py_CLEAR(e->levels);
    e->groups = groups;
    e->fixed = e->strings = e->others = 0;
    if (load_ops(e, program) < 0 || load_pieces(e, template) < 0)
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
    free_ops(e);
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
     "encode(texts, starts, default_time, log_file) -> (ndjson bytes, [(index, position)])"},
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

/* split_lines(data, start) -> (texts, starts, longest): the lines of ASCII `data`, which ends
   with a newline, as str without it; the file offset of each; the length of the longest. The
   framer's hot path (logship/tail/framing.py): one pass, no intermediate bytes objects. */
static PyObject *split_lines(PyObject *self, PyObject *args) {
    const char *data;
    Py_ssize_t n;
    long long start;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#L", &data, &n, &start))
        return NULL;
    Py_ssize_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, data + i, 8);
        if (v & HIGHS)
            break;
    }
    for (; i < n; i++)
        if ((uint8_t)data[i] >= 128)
            break;
    if (i < n || n == 0 || data[n - 1] != '\n') {
        PyErr_SetString(PyExc_ValueError, "ASCII text ending with a newline is needed");
        return NULL;
    }
    for (const char *p = data; (p = memchr(p, '\n', (size_t)(data + n - p))) != NULL; p++)
        count++;
    PyObject *texts = PyList_New(count), *starts = PyList_New(count);
    if (texts == NULL || starts == NULL)
        goto fail;
    Py_ssize_t pos = 0, longest = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        const char *nl = memchr(data + pos, '\n', (size_t)(n - pos));
        Py_ssize_t len = nl - (data + pos);
        PyObject *text = PyUnicode_New(len, 127);
        if (text == NULL)
            goto fail;
        memcpy(PyUnicode_1BYTE_DATA(text), data + pos, (size_t)len);
        PyList_SET_ITEM(texts, k, text);
        PyObject *at = PyLong_FromLongLong(start + pos);
        if (at == NULL)
            goto fail;
        PyList_SET_ITEM(starts, k, at);
        if (len > longest)
            longest = len;
        pos += len + 1;
    }
    PyObject *result = Py_BuildValue("(NNn)", texts, starts, longest);
    return result;
fail:
    Py_XDECREF(texts);
    Py_XDECREF(starts);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"split_lines", split_lines, METH_VARARGS,
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
    if (PyType_Ready(&EncoderType) < 0)
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
    return m;
}
