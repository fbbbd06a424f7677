/* The per-chunk counts of what a Selector selected (see select.h), and CountRecords, the
 * sequence of a count's records that the alert engine reads (JSON lines sliced on demand).
 */
#include "select.h"

#include <stddef.h>

static int grow(void **data, Py_ssize_t *size, Py_ssize_t need, size_t unit) {
    if (need <= *size)
        return 0;
    Py_ssize_t size2 = *size ? *size : 64;
    while (size2 < need)
        size2 *= 2;
    void *more = PyMem_RawRealloc(*data, (size_t)size2 * unit); /* the GIL may be released */
    if (more == NULL)
        return -1; /* no exception set: see Gil */
    *data = more, *size = size2;
    return 0;
}

static inline uint64_t hash_of(const Count *it, int head) {
    return head ? it->head_hash : it->hash;
}

/* Room in a table holding `held` counts (hashed by key or by head) for one more. */
static int table_room(Table *t, const Count *items, int head, Py_ssize_t held) {
    if (2 * (held + 1) <= t->cap)
        return 0;
    Py_ssize_t cap = t->cap ? 2 * t->cap : 256;
    Py_ssize_t *slots = PyMem_RawCalloc((size_t)cap, sizeof(Py_ssize_t));
    if (slots == NULL)
        return -1;
    for (Py_ssize_t j = 0; j < t->cap; j++) {
        Py_ssize_t item = t->slots[j];
        if (!item)
            continue;
        Py_ssize_t i = (Py_ssize_t)(hash_of(&items[item - 1], head) & (uint64_t)(cap - 1));
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = item;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots, t->cap = cap;
    return 0;
}

/* Appends a group-by value or the timestamp text to a count's key: its length, its bytes
   (an integer's without leading zeros: its text as a label, `str(int(...))`). */
static Py_ssize_t put_part(char *k, const uint8_t *v, Py_ssize_t n, int is_int) {
    while (is_int && n > 1 && v[0] == '0')
        v++, n--;
    uint32_t len = (uint32_t)n;
    memcpy(k, &len, 4);
    memcpy(k + 4, v, (size_t)n);
    return 4 + n;
}

static inline Py_ssize_t span_len(const Py_ssize_t *spans, int g) {
    return spans[2 * g + 1] - spans[2 * g];
}

int counts_add(Counts *c, const Selector *sel, int cond, const uint8_t *s,
               const Py_ssize_t *spans, Py_ssize_t from, Py_ssize_t to) {
    const CountKey *key = &sel->keys[cond];
    int ts = sel->ts_group;
    Py_ssize_t need = 4 + (ts ? 4 + span_len(spans, ts) : 0);
    for (Py_ssize_t p = 0; p < key->nparts; p++)
        need += 4 + span_len(spans, key->parts[p].group);
    if (grow((void **)&c->arena, &c->arena_size, c->arena_used + need, 1) < 0 ||
        grow((void **)&c->hits, &c->hits_room, c->nhits + 1, sizeof(Hit)) < 0 ||
        table_room(&c->table, c->items, 0, c->n) < 0)
        return -1;
    char *k = c->arena + c->arena_used;
    Py_ssize_t len = 4;
    memcpy(k, &cond, 4);
    for (Py_ssize_t p = 0; p < key->nparts; p++) {
        int g = key->parts[p].group;
        len += put_part(k + len, s + spans[2 * g], span_len(spans, g), key->parts[p].is_int);
    }
    Py_ssize_t head = len;
    if (ts)
        len += put_part(k + len, s + spans[2 * ts], span_len(spans, ts), 0);
    Py_ssize_t hit = c->nhits++;
    c->hits[hit] = (Hit){from, to, -1};
    uint64_t h = hash_bytes((const uint8_t *)k, len);
    Py_ssize_t mask = c->table.cap - 1, i = (Py_ssize_t)(h & (uint64_t)mask);
    for (; c->table.slots[i]; i = (i + 1) & mask) {
        Count *it = &c->items[c->table.slots[i] - 1];
        if (it->hash == h && it->key_len == len &&
            memcmp(c->arena + it->key_at, k, (size_t)len) == 0) {
            it->count++;
            c->hits[it->last].next = hit;
            it->last = hit;
            return 0;
        }
    }
    if (grow((void **)&c->items, &c->room, c->n + 1, sizeof(Count)) < 0)
        return -1;
    c->table.slots[i] = c->n + 1;
    c->arena_used += len;
    /* A new count: of the group of an earlier count with the same head, or a new group. */
    Count *it = &c->items[c->n++];
    *it = (Count){h, hash_bytes((const uint8_t *)k, head), k - c->arena, len, head, cond, 1,
                  c->n - 1, hit, hit};
    if (table_room(&c->groups, c->items, 1, c->ngroups) < 0)
        return -1;
    mask = c->groups.cap - 1;
    for (i = (Py_ssize_t)(it->head_hash & (uint64_t)mask); c->groups.slots[i];
         i = (i + 1) & mask) {
        const Count *other = &c->items[c->groups.slots[i] - 1];
        if (other->head_hash == it->head_hash && other->head_len == head &&
            memcmp(c->arena + other->key_at, k, (size_t)head) == 0) {
            it->group = other->group;
            return 0;
        }
    }
    c->groups.slots[i] = c->n;
    c->ngroups++;
    return 0;
}

void counts_free(Counts *c) {
    PyMem_RawFree(c->items);
    PyMem_RawFree(c->table.slots);
    PyMem_RawFree(c->groups.slots);
    PyMem_RawFree(c->hits);
    PyMem_RawFree(c->arena);
}
/* --- handing the counts over ------------------------------------------------------------------ */

typedef struct {
    PyObject_VAR_HEAD
    PyObject *out;
    Py_ssize_t spans[1]; /* 2 per record: from, to */
} CountRecords;

static Py_ssize_t CountRecords_len(CountRecords *r) {
    return Py_SIZE(r);
}

static PyObject *CountRecords_item(CountRecords *r, Py_ssize_t i) {
    if (i < 0 || i >= Py_SIZE(r)) {
        PyErr_SetString(PyExc_IndexError, "record index out of range");
        return NULL;
    }
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(r->out) + r->spans[2 * i],
                                     r->spans[2 * i + 1] - r->spans[2 * i]);
}

static void CountRecords_dealloc(CountRecords *r) {
    Py_XDECREF(r->out);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PySequenceMethods CountRecords_sequence = {
    .sq_length = (lenfunc)CountRecords_len,
    .sq_item = (ssizeargfunc)CountRecords_item,
};

PyTypeObject CountRecordsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.CountRecords",
    .tp_basicsize = offsetof(CountRecords, spans),
    .tp_itemsize = 2 * sizeof(Py_ssize_t),
    .tp_dealloc = (destructor)CountRecords_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The records of one count, as JSON lines (bytes), in order.",
    .tp_as_sequence = &CountRecords_sequence,
};

static PyObject *records_of(const Counts *c, const Count *it, PyObject *out) {
    CountRecords *r = PyObject_NewVar(CountRecords, &CountRecordsType, it->count);
    if (r == NULL)
        return NULL;
    Py_INCREF(out);
    r->out = out;
    Py_ssize_t k = 0;
    for (Py_ssize_t hit = it->first; hit >= 0 && k < it->count; hit = c->hits[hit].next, k++) {
        r->spans[2 * k] = c->hits[hit].from;
        r->spans[2 * k + 1] = c->hits[hit].to;
    }
    return (PyObject *)r;
}

static PyObject *part_text(const char *k, Py_ssize_t *at) {
    uint32_t len;
    memcpy(&len, k + *at, 4);
    PyObject *text = PyUnicode_DecodeASCII(k + *at + 4, (Py_ssize_t)len, NULL);
    *at += 4 + (Py_ssize_t)len;
    return text;
}

typedef struct {
    PyObject *cache, *parse, *default_time;
    const char *raw; /* the last timestamp text looked up (counts of a chunk share a few) */
    Py_ssize_t raw_len;
    PyObject *stamp;
} Stamps;

/* The @timestamp of a count: the rule's cache, or its parser when the cache forgot it. */
static PyObject *stamp_of(Stamps *st, const char *k, Py_ssize_t *at) {
    uint32_t len;
    memcpy(&len, k + *at, 4);
    const char *text = k + *at + 4;
    if (st->stamp != NULL && st->raw_len == (Py_ssize_t)len &&
        memcmp(st->raw, text, len) == 0) {
        *at += 4 + (Py_ssize_t)len;
        Py_INCREF(st->stamp);
        return st->stamp;
    }
    PyObject *raw = part_text(k, at);
    if (raw == NULL)
        return NULL;
    PyObject *stamp = PyDict_GetItemWithError(st->cache, raw);
    if (stamp != NULL)
        Py_INCREF(stamp);
    else if (!PyErr_Occurred())
        stamp = PyObject_CallOneArg(st->parse, raw);
    Py_DECREF(raw);
    if (stamp != NULL) {
        Py_XSETREF(st->stamp, stamp);
        Py_INCREF(stamp);
        st->raw = text, st->raw_len = (Py_ssize_t)len;
    }
    return stamp;
}

static PyObject *count_item(const Counts *c, const Count *it, const Selector *sel,
                            PyObject *out, Stamps *st) {
    const char *k = c->arena + it->key_at;
    Py_ssize_t at = 4, nparts = sel->keys[it->cond].nparts;
    PyObject *parts = PyTuple_New(nparts);
    for (Py_ssize_t p = 0; parts != NULL && p < nparts; p++) {
        PyObject *text = part_text(k, &at);
        if (text == NULL)
            Py_CLEAR(parts);
        else
            PyTuple_SET_ITEM(parts, p, text);
    }
    if (parts == NULL)
        return NULL;
    PyObject *stamp = st->default_time;
    if (sel->ts_group)
        stamp = stamp_of(st, k, &at);
    else
        Py_INCREF(stamp);
    PyObject *records = stamp == NULL ? NULL : records_of(c, it, out);
    if (records == NULL) {
        Py_DECREF(parts);
        Py_XDECREF(stamp);
        return NULL;
    }
    PyObject *item = PyTuple_New(5), *cond = PyLong_FromLong(it->cond);
    PyObject *count = PyLong_FromSsize_t(it->count);
    if (item == NULL || cond == NULL || count == NULL) {
        Py_XDECREF(item), Py_XDECREF(cond), Py_XDECREF(count);
        Py_DECREF(parts), Py_DECREF(stamp), Py_DECREF(records);
        return NULL;
    }
    PyTuple_SET_ITEM(item, 0, cond);
    PyTuple_SET_ITEM(item, 1, parts);
    PyTuple_SET_ITEM(item, 2, stamp);
    PyTuple_SET_ITEM(item, 3, count);
    PyTuple_SET_ITEM(item, 4, records);
    return item;
}

typedef struct {
    int cond;
    Py_ssize_t group, index;
} Order;

static int order_cmp(const void *a, const void *b) {
    const Order *x = a, *y = b;
    if (x->cond != y->cond)
        return x->cond < y->cond ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

PyObject *counts_emit(const Counts *c, const Selector *sel, PyObject *out, PyObject *cache,
                      PyObject *parse, PyObject *default_time) {
    Order *order = PyMem_Malloc((size_t)(c->n ? c->n : 1) * sizeof(Order));
    if (order == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t j = 0; j < c->n; j++)
        order[j] = (Order){c->items[j].cond, c->items[j].group, j};
    qsort(order, (size_t)c->n, sizeof(Order), order_cmp);
    PyObject *list = PyList_New(c->n);
    Stamps st = {cache, parse, default_time, NULL, 0, NULL};
    for (Py_ssize_t j = 0; list != NULL && j < c->n; j++) {
        PyObject *item = count_item(c, &c->items[order[j].index], sel, out, &st);
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, j, item);
    }
    Py_XDECREF(st.stamp);
    PyMem_Free(order);
    return list;
}
