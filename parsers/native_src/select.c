/* The compiled selection of alert conditions and its per-chunk counts: see select.h. */
#include "select.h"

enum { T_GT = 0, T_GTE = 1, T_LT = 2, T_LTE = 3, T_EQ = 4, T_NEVER = 5, T_TEXT = 6 };

#define MEMO_SLOTS 8192       /* cleared at half full: 4096 values, as the Python memos */
#define MEMO_ARENA (1 << 19)  /* bytes of keys before a clear */
#define MEMO_MAX_KEY 1024     /* longer values are not remembered (learned every time) */
#define COMBO_SLOTS 2048
#define EXACT (1LL << 53)     /* integers a double holds exactly: compared in C */

/* --- memos: bytes -> bits ------------------------------------------------------------------ */

static int memo_init(Memo *m, Py_ssize_t cap, Py_ssize_t arena) {
    m->slots = PyMem_Malloc((size_t)cap * sizeof(MemoSlot));
    m->arena = PyMem_Malloc((size_t)arena);
    if (m->slots == NULL || m->arena == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    m->cap = cap, m->arena_size = arena;
    m->used = m->arena_used = 0;
    m->epoch = 1; /* Recent entries start at 0: void */
    for (Py_ssize_t i = 0; i < cap; i++)
        m->slots[i].len = -1;
    return 0;
}

static void memo_free(Memo *m) {
    PyMem_Free(m->slots);
    PyMem_Free(m->arena);
    m->slots = NULL, m->arena = NULL;
}

/* The slot of `key` (found: len >= 0) or the empty slot where it goes. */
static MemoSlot *memo_slot(const Memo *m, const uint8_t *key, Py_ssize_t n, uint64_t h) {
    Py_ssize_t mask = m->cap - 1, i = (Py_ssize_t)(h & (uint64_t)mask);
    for (;; i = (i + 1) & mask) {
        MemoSlot *slot = &m->slots[i];
        if (slot->len < 0 || (slot->hash == h && slot->len == n &&
                              memcmp(m->arena + slot->at, key, (size_t)n) == 0))
            return slot;
    }
}

static void memo_put(Memo *m, const uint8_t *key, Py_ssize_t n, uint64_t h, uint64_t bits) {
    if (n > MEMO_MAX_KEY)
        return;
    if (2 * (m->used + 1) > m->cap || m->arena_used + n > m->arena_size) {
        for (Py_ssize_t i = 0; i < m->cap; i++) /* full: start again, as the Python memos do */
            m->slots[i].len = -1;
        m->used = m->arena_used = 0;
        m->epoch++;
    }
    MemoSlot *slot = memo_slot(m, key, n, h);
    memcpy(m->arena + m->arena_used, key, (size_t)n);
    slot->hash = h, slot->at = m->arena_used, slot->len = n, slot->bits = bits;
    m->arena_used += n;
    m->used++;
}

/* `fn(arg)` as uint64 bits; -1 on error. */
static int call_bits(PyObject *fn, PyObject *arg, uint64_t *bits) {
    if (arg == NULL)
        return -1;
    PyObject *result = PyObject_CallOneArg(fn, arg);
    Py_DECREF(arg);
    if (result == NULL)
        return -1;
    *bits = PyLong_AsUnsignedLongLong(result);
    Py_DECREF(result);
    return (*bits == (uint64_t)-1 && PyErr_Occurred()) ? -1 : 0;
}

/* --- per line -------------------------------------------------------------------------------- */

/* A text of 8 bytes or fewer as a word that, with its length, tells it from any other: two
   overlapping loads, no byte loop. */
static inline uint64_t word_of(const uint8_t *v, Py_ssize_t n) {
    uint32_t lo, hi;
    if (n >= 4) {
        memcpy(&lo, v, 4);
        memcpy(&hi, v + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << 32;
    }
    return n ? (uint64_t)v[0] | (uint64_t)v[n / 2] << 8 | (uint64_t)v[n - 1] << 16 : 0;
}

/* The direct leaves that hold for a value: its bytes, and for an integer field its number. */
static inline __attribute__((always_inline)) uint64_t
direct_leaves(const Field *f, double x, const uint8_t *v, Py_ssize_t n) {
    uint64_t ok = f->direct, w = 0;
    int have_w = 0;
    for (Py_ssize_t k = 0; k < f->ntests; k++) {
        const Test *t = &f->tests[k];
        int pass = 0;
        switch (t->op) {
        case T_GT: pass = x > t->values[0]; break;
        case T_GTE: pass = x >= t->values[0]; break;
        case T_LT: pass = x < t->values[0]; break;
        case T_LTE: pass = x <= t->values[0]; break;
        case T_EQ:
            for (Py_ssize_t j = 0; j < t->nvalues && !pass; j++)
                pass = x == t->values[j];
            break;
        case T_TEXT:
            if (n <= 8 && !have_w)
                w = word_of(v, n), have_w = 1;
            for (Py_ssize_t j = 0; j < t->nvalues && !pass; j++)
                pass = t->lens[j] == n &&
                       (n <= 8 ? t->words[j] == w : memcmp(t->texts[j], v, (size_t)n) == 0);
            break;
        default: break;
        }
        if (!pass)
            ok &= ~t->leaf;
    }
    return ok;
}

/* A value's length and first and last (up to) 8 bytes, mixed: Recent's key. */
static inline uint64_t sketch_of(const uint8_t *v, Py_ssize_t n) {
    uint64_t head, tail;
    if (n >= 8) {
        memcpy(&head, v, 8);
        memcpy(&tail, v + n - 8, 8);
    } else {
        head = word_of(v, n), tail = 0;
    }
    uint64_t h = (head ^ ((uint64_t)n << 56)) * 0x9E3779B97F4A7C15ULL;
    h ^= (tail + (h >> 29)) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 31);
}

int selector_conditions(Selector *sel, Gil *gil, const uint8_t *s, const Py_ssize_t *spans,
                        uint64_t *bits) {
    uint64_t leaves = 0;
    for (Py_ssize_t k = 0; k < sel->nfields; k++) {
        Field *f = &sel->fields[k];
        const uint8_t *v = s + spans[2 * f->group];
        Py_ssize_t n = spans[2 * f->group + 1] - spans[2 * f->group];
        uint64_t rest = f->leaves;
        if (f->direct && f->is_int) { /* 1 to 18 digits: the encoder wrote the value as one */
            long long x = 0;
            for (Py_ssize_t i = 0; i < n; i++)
                x = 10 * x + (v[i] - '0');
            if (x < EXACT) {
                IntNear *near = &f->near[x & 63]; /* status codes and the like repeat */
                if (!near->known || near->x != x)
                    *near = (IntNear){x, direct_leaves(f, (double)x, v, n), 1};
                leaves |= near->bits;
                rest &= ~f->direct;
            }
        } else if (f->direct && rest == f->direct) {
            /* (a text field with other leaves too: its memo answers every leaf at once) */
            leaves |= direct_leaves(f, 0.0, v, n);
            rest = 0;
        }
        if (!rest)
            continue;
        uint64_t sketch = sketch_of(v, n), learned;
        Recent *recent = &f->recent[(sketch >> 32) & (RECENT - 1)];
        if (recent->sketch == sketch && recent->epoch == f->memo.epoch && recent->len == n &&
            memcmp(f->memo.arena + recent->at, v, (size_t)n) == 0) {
            leaves |= recent->bits & rest;
            continue;
        }
        uint64_t h = hash_bytes(v, n);
        MemoSlot *slot = memo_slot(&f->memo, v, n, h);
        if (slot->len >= 0) {
            learned = slot->bits;
        } else {
            gil_take(gil);
            int failed = call_bits(f->learn, PyBytes_FromStringAndSize((const char *)v, n),
                                   &learned);
            gil_drop(gil);
            if (failed < 0)
                return -1;
            memo_put(&f->memo, v, n, h, learned);
            slot = memo_slot(&f->memo, v, n, h); /* not found if too long to remember */
        }
        if (slot->len >= 0)
            *recent = (Recent){sketch, f->memo.epoch, learned, slot->at, n};
        leaves |= learned & rest;
    }
    /* The leaf bits of a line take few values: a direct-mapped cache first, then the memo. */
    Combo *near = &sel->near[(leaves ^ (leaves >> 17) ^ (leaves >> 41)) & (NEAR - 1)];
    if (near->known && near->leaves == leaves) {
        *bits = near->bits;
        return 0;
    }
    const uint8_t *key = (const uint8_t *)&leaves;
    uint64_t h = hash_bytes(key, 8);
    MemoSlot *slot = memo_slot(&sel->combos, key, 8, h);
    if (slot->len >= 0) {
        *bits = slot->bits;
    } else {
        gil_take(gil);
        int failed = call_bits(sel->combine, PyLong_FromUnsignedLongLong(leaves), bits);
        gil_drop(gil);
        if (failed < 0)
            return -1;
        memo_put(&sel->combos, key, 8, h, *bits);
    }
    *near = (Combo){leaves, *bits, 1};
    return 0;
}

/* --- the Selector type: loading its spec ------------------------------------------------------ */

static int load_tests(Field *f, PyObject *tests) {
    f->ntests = PyTuple_GET_SIZE(tests);
    f->tests = PyMem_Calloc((size_t)(f->ntests ? f->ntests : 1), sizeof(Test));
    if (f->tests == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < f->ntests; k++) {
        Test *t = &f->tests[k];
        PyObject *values;
        unsigned long long leaf;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(tests, k), "KiO!", &leaf, &t->op, &PyTuple_Type,
                              &values))
            return -1;
        t->leaf = leaf;
        t->nvalues = PyTuple_GET_SIZE(values);
        if (t->op < T_GT || t->op > T_TEXT || (t->op < T_EQ && t->nvalues != 1)) {
            PyErr_SetString(PyExc_ValueError, "a malformed test");
            return -1;
        }
        size_t room = (size_t)(t->nvalues ? t->nvalues : 1);
        t->values = PyMem_Calloc(room, sizeof(double));
        t->texts = PyMem_Calloc(room, sizeof(char *));
        t->lens = PyMem_Calloc(room, sizeof(Py_ssize_t));
        t->words = PyMem_Calloc(room, sizeof(uint64_t));
        if (t->values == NULL || t->texts == NULL || t->lens == NULL || t->words == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t j = 0; j < t->nvalues; j++) {
            PyObject *value = PyTuple_GET_ITEM(values, j);
            if (t->op == T_TEXT) {
                char *data;
                if (PyBytes_AsStringAndSize(value, &data, &t->lens[j]) < 0)
                    return -1;
                t->texts[j] = PyMem_Malloc((size_t)(t->lens[j] ? t->lens[j] : 1));
                if (t->texts[j] == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                memcpy(t->texts[j], data, (size_t)t->lens[j]);
                if (t->lens[j] <= 8)
                    t->words[j] = word_of((const uint8_t *)data, t->lens[j]);
                continue;
            }
            t->values[j] = PyFloat_AsDouble(value);
            if (t->values[j] == -1.0 && PyErr_Occurred())
                return -1;
        }
    }
    return 0;
}

static int load_fields(Selector *sel, PyObject *fields) {
    sel->nfields = PyTuple_GET_SIZE(fields);
    sel->fields = PyMem_Calloc((size_t)(sel->nfields ? sel->nfields : 1), sizeof(Field));
    if (sel->fields == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < sel->nfields; k++) {
        Field *f = &sel->fields[k];
        PyObject *tests, *learn;
        unsigned long long leaves, direct;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(fields, k), "iiKKO!O", &f->group, &f->is_int,
                              &leaves, &direct, &PyTuple_Type, &tests, &learn))
            return -1;
        f->leaves = leaves, f->direct = direct;
        Py_INCREF(learn);
        f->learn = learn;
        if (f->group < 1 || !PyCallable_Check(learn) || load_tests(f, tests) < 0 ||
            memo_init(&f->memo, MEMO_SLOTS, MEMO_ARENA) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a malformed field");
            return -1;
        }
    }
    return 0;
}

static int load_keys(Selector *sel, PyObject *keys) {
    sel->nconds = PyTuple_GET_SIZE(keys);
    sel->keys = PyMem_Calloc((size_t)(sel->nconds ? sel->nconds : 1), sizeof(CountKey));
    if (sel->keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < sel->nconds; k++) {
        PyObject *parts = PyTuple_GET_ITEM(keys, k);
        if (!PyTuple_Check(parts)) {
            PyErr_SetString(PyExc_TypeError, "a count key is a tuple");
            return -1;
        }
        CountKey *key = &sel->keys[k];
        key->nparts = PyTuple_GET_SIZE(parts);
        key->parts = PyMem_Calloc((size_t)(key->nparts ? key->nparts : 1), sizeof(KeyPart));
        if (key->parts == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t p = 0; p < key->nparts; p++) {
            KeyPart *part = &key->parts[p];
            if (!PyArg_ParseTuple(PyTuple_GET_ITEM(parts, p), "ii", &part->group,
                                  &part->is_int))
                return -1;
            if (part->group < 1) {
                PyErr_SetString(PyExc_ValueError, "group number out of range");
                return -1;
            }
        }
    }
    return 0;
}

static void Selector_clear(Selector *sel) {
    for (Py_ssize_t k = 0; sel->fields != NULL && k < sel->nfields; k++) {
        Field *f = &sel->fields[k];
        for (Py_ssize_t t = 0; f->tests != NULL && t < f->ntests; t++) {
            Test *test = &f->tests[t];
            for (Py_ssize_t j = 0; test->texts != NULL && j < test->nvalues; j++)
                PyMem_Free(test->texts[j]);
            PyMem_Free(test->texts);
            PyMem_Free(test->lens);
            PyMem_Free(test->words);
            PyMem_Free(test->values);
        }
        PyMem_Free(f->tests);
        Py_CLEAR(f->learn);
        memo_free(&f->memo);
    }
    PyMem_Free(sel->fields);
    sel->fields = NULL, sel->nfields = 0;
    for (Py_ssize_t k = 0; sel->keys != NULL && k < sel->nconds; k++)
        PyMem_Free(sel->keys[k].parts);
    PyMem_Free(sel->keys);
    sel->keys = NULL, sel->nconds = 0;
    memo_free(&sel->combos);
    Py_CLEAR(sel->combine);
}

static int Selector_init(Selector *sel, PyObject *args, PyObject *kwds) {
    PyObject *fields, *combine, *keys;
    int ts_group;
    static char *names[] = {"fields", "combine", "keys", "ts_group", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO!i", names, &PyTuple_Type, &fields,
                                     &combine, &PyTuple_Type, &keys, &ts_group))
        return -1;
    if (sel->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the Selector is in use by an encode");
        return -1;
    }
    Selector_clear(sel);
    memset(sel->near, 0, sizeof sel->near);
    if (!PyCallable_Check(combine) || ts_group < 0 || PyTuple_GET_SIZE(keys) > 64) {
        PyErr_SetString(PyExc_ValueError, "a malformed selector");
        return -1;
    }
    Py_INCREF(combine);
    sel->combine = combine;
    sel->ts_group = ts_group;
    if (memo_init(&sel->combos, COMBO_SLOTS, COMBO_SLOTS * 8) < 0 ||
        load_fields(sel, fields) < 0 || load_keys(sel, keys) < 0)
        return -1;
    return 0;
}

static void Selector_dealloc(Selector *sel) {
    Selector_clear(sel);
    Py_TYPE(sel)->tp_free((PyObject *)sel);
}

PyTypeObject SelectorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.Selector",
    .tp_basicsize = sizeof(Selector),
    .tp_dealloc = (destructor)Selector_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Selector(fields, combine, keys, ts_group): see parsers/native_select.py.",
    .tp_init = (initproc)Selector_init,
    .tp_new = PyType_GenericNew,
};

int selector_max_group(const Selector *sel) {
    int most = sel->ts_group;
    for (Py_ssize_t k = 0; k < sel->nfields; k++)
        most = sel->fields[k].group > most ? sel->fields[k].group : most;
    for (Py_ssize_t k = 0; k < sel->nconds; k++)
        for (Py_ssize_t p = 0; p < sel->keys[k].nparts; p++)
            most = sel->keys[k].parts[p].group > most ? sel->keys[k].parts[p].group : most;
    return most;
}
