/* CountSet: the counts of one encoded chunk as the alert engine takes them (see select.h).
 *
 * It owns the chunk's Counts and hands them over two ways: `items()`, every count as a tuple
 * (condition, group-by texts, @timestamp, count, records); and `observe(...)`, the engine's
 * loop with its common cases done here (rule_table.c), without a tuple built for the count:
 * a count of a group its rule's table does not hold, below the threshold (per source IP,
 * nearly every count), becomes a seed in the rule's SeedTable (seed_table.c, from the key's
 * bytes: no Python object is made for it); a count of a group the table holds that
 * stays below its threshold, or that fires and is silenced, is counted into its window. The
 * other counts go to the engine's Python loop, in order, so the table sees the same
 * operations in the same order either way.
 */
#include "select.h"
#include "rule_table.h"

#include <stddef.h>

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
    PyObject *cache, *parse;
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


typedef struct {
    PyObject_HEAD
    Counts counts;
    Py_ssize_t *order; /* count indexes in the order the engine takes them */
    int ts_group;
    Py_ssize_t nconds;
    Py_ssize_t nparts[64]; /* per condition: how many group-by values its keys hold */
    PyObject *out, *cache, *parse, *default_time;
} CountSet;

/* The group-by texts of a count (a tuple); `*at` moves past them to its timestamp text. */
static PyObject *key_of(const CountSet *cs, const Count *it, Py_ssize_t *at) {
    const char *k = cs->counts.arena + it->key_at;
    Py_ssize_t nparts = cs->nparts[it->cond];
    PyObject *parts = PyTuple_New(nparts);
    for (Py_ssize_t p = 0; parts != NULL && p < nparts; p++) {
        PyObject *text = part_text(k, at);
        if (text == NULL)
            Py_CLEAR(parts);
        else
            PyTuple_SET_ITEM(parts, p, text);
    }
    return parts;
}

static PyObject *stamp_at(const CountSet *cs, Stamps *st, const Count *it, Py_ssize_t at) {
    if (!cs->ts_group) {
        Py_INCREF(cs->default_time);
        return cs->default_time;
    }
    return stamp_of(st, cs->counts.arena + it->key_at, &at);
}

/* (condition, key, stamp, count, records); steals `key` and `stamp`. */
static PyObject *pack(const CountSet *cs, const Count *it, PyObject *key, PyObject *stamp) {
    PyObject *records = records_of(&cs->counts, it, cs->out);
    PyObject *item = PyTuple_New(5), *cond = PyLong_FromLong(it->cond);
    PyObject *count = PyLong_FromSsize_t(it->count);
    if (records == NULL || item == NULL || cond == NULL || count == NULL) {
        Py_XDECREF(records), Py_XDECREF(item), Py_XDECREF(cond), Py_XDECREF(count);
        Py_DECREF(key), Py_DECREF(stamp);
        return NULL;
    }
    PyTuple_SET_ITEM(item, 0, cond);
    PyTuple_SET_ITEM(item, 1, key);
    PyTuple_SET_ITEM(item, 2, stamp);
    PyTuple_SET_ITEM(item, 3, count);
    PyTuple_SET_ITEM(item, 4, records);
    return item;
}

static PyObject *CountSet_items(CountSet *cs, PyObject *unused) {
    (void)unused;
    PyObject *list = PyList_New(cs->counts.n);
    Stamps st = {cs->cache, cs->parse, NULL, 0, NULL};
    for (Py_ssize_t j = 0; list != NULL && j < cs->counts.n; j++) {
        const Count *it = &cs->counts.items[cs->order[j]];
        Py_ssize_t at = 4;
        PyObject *key = key_of(cs, it, &at), *stamp = NULL, *item = NULL;
        if (key != NULL)
            stamp = stamp_at(cs, &st, it, at);
        if (stamp != NULL)
            item = pack(cs, it, key, stamp);
        else
            Py_XDECREF(key);
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, j, item);
    }
    Py_XDECREF(st.stamp);
    return list;
}

/* Hands the counts waiting in `*pending` to the engine's loop. */
static int hand_over(PyObject *handle, PyObject **pending) {
    if (*pending == NULL)
        return 0;
    PyObject *r = PyObject_CallOneArg(handle, *pending);
    Py_CLEAR(*pending);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The event time of a count's @timestamp as the engine's loop takes it: `times(stamp)`,
   or `now` when it has none or is ahead of the clock. */
static int event_time(PyObject *times, PyObject *stamp, double now, double *t) {
    PyObject *r = PyObject_CallOneArg(times, stamp);
    if (r == NULL)
        return -1;
    *t = now;
    if (r != Py_None) {
        double found = PyFloat_AsDouble(r);
        if (found == -1.0 && PyErr_Occurred()) {
            Py_DECREF(r);
            return -1;
        }
        if (found <= now)
            *t = found;
    }
    Py_DECREF(r);
    return 0;
}

typedef struct {
    PyObject *stamp, *t; /* the last @timestamp object met and its event time as a float */
    double value;
} Clock;

/* One count: a seed, counted into its group, or handed over (appended to `*pending`). */
static int observe_one(CountSet *cs, const Count *it, RuleTable *r, int follows, Stamps *st,
                       Clock *clock, PyObject *times, double now, PyObject *now_obj,
                       PyObject *handle, PyObject **pending, int *handed) {
    /* the key's bytes: the count's head after its condition, then the timestamp text */
    const char *bytes = cs->counts.arena + it->key_at + 4;
    Py_ssize_t len = it->head_len - 4;
    PyObject *key = NULL, *stamp = stamp_at(cs, st, it, it->head_len);
    if (stamp == NULL)
        return -1;
    /* Taken here unless the group's earlier count (counts of a group come together) waits
       for the engine's loop. */
    int usable = r->groups != NULL && !follows, done = 0;
    if (usable && stamp != clock->stamp) {
        double t;
        PyObject *t_obj = NULL;
        if (event_time(times, stamp, now, &t) < 0 || (t_obj = PyFloat_FromDouble(t)) == NULL)
            goto fail;
        Py_INCREF(stamp);
        Py_XSETREF(clock->stamp, stamp);
        Py_XSETREF(clock->t, t_obj);
        clock->value = t;
    }
    usable = usable && clock->value > r->oldest;
    PyObject *known = NULL; /* the group table's own key object (its hash is cached) */
    int kind = usable && r->seeds != NULL ? seed_table_kind(r->seeds, bytes, len, &known) : 2;
    if (kind == 0 && it->count < r->need) {
        /* a new group below its threshold: a seed, no Python object made for it (earlier
           counts first: the tables must see every operation in order) */
        if (hand_over(handle, pending) < 0 ||
            (done = rule_table_seed(r, bytes, len, clock->value, it->count, now)) < 0)
            goto fail;
    }
    Py_ssize_t at = 4;
    if (!done && known != NULL) {
        Py_INCREF(known);
        key = known;
    } else if (!done && (key = key_of(cs, it, &at)) == NULL) {
        goto fail;
    }
    if (!done && usable && kind == 2) { /* a group it may hold (a seed seen again: the loop) */
        PyObject *found = PyDict_GetItemWithError(r->groups, key);
        if (found == NULL && PyErr_Occurred())
            goto fail;
        if (found != NULL && Py_TYPE(found) == (PyTypeObject *)r->group_type) {
            /* (the loop may evict the group: looked up again after it ran) */
            if (*pending != NULL && (hand_over(handle, pending) < 0 ||
                                     ((found = PyDict_GetItemWithError(r->groups, key)) == NULL &&
                                      PyErr_Occurred())))
                goto fail;
            const Hit *last = &cs->counts.hits[it->last];
            done = found == NULL ? 0
                                 : rule_table_count(r, key, found, clock->value, clock->t,
                                                    it->count, now, now_obj,
                                                    PyBytes_AS_STRING(cs->out) + last->from,
                                                    last->to - last->from);
            if (done < 0)
                goto fail;
        }
    }
    if (done) {
        Py_XDECREF(key);
        Py_DECREF(stamp);
        *handed = 0;
        return 0;
    }
    PyObject *item = pack(cs, it, key, stamp);
    if (item == NULL)
        return -1;
    if (*pending == NULL && (*pending = PyList_New(0)) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    int failed = PyList_Append(*pending, item);
    Py_DECREF(item);
    *handed = 1;
    return failed;
fail:
    Py_XDECREF(key);
    Py_DECREF(stamp);
    return -1;
}

static PyObject *CountSet_observe(CountSet *cs, PyObject *args) {
    PyObject *specs, *times, *handle;
    double now;
    if (!PyArg_ParseTuple(args, "O!dOO", &PyTuple_Type, &specs, &now, &times, &handle))
        return NULL;
    if (PyTuple_GET_SIZE(specs) != cs->nconds) {
        PyErr_SetString(PyExc_ValueError, "one table (or None) per condition");
        return NULL;
    }
    RuleTable tables[64];
    if (rule_tables_load(specs, now, tables, cs->nconds) < 0)
        return NULL;
    PyObject *now_obj = PyFloat_FromDouble(now), *pending = NULL, *result = NULL;
    if (now_obj == NULL)
        return NULL;
    Stamps st = {cs->cache, cs->parse, NULL, 0, NULL};
    Clock clock = {NULL, NULL, 0.0};
    int handed = 0, last_cond = -1;
    Py_ssize_t last_group = -1;
    for (Py_ssize_t j = 0; j < cs->counts.n; j++) {
        const Count *it = &cs->counts.items[cs->order[j]];
        int follows = handed && it->cond == last_cond && it->group == last_group;
        last_cond = it->cond, last_group = it->group;
        if (observe_one(cs, it, &tables[it->cond], follows, &st, &clock, times, now, now_obj,
                        handle, &pending, &handed) < 0)
            goto done;
    }
    if (hand_over(handle, &pending) < 0)
        goto done;
    result = PyList_New(0);
    for (Py_ssize_t c = 0; result != NULL && c < cs->nconds; c++) {
        if (!tables[c].counted && !tables[c].evicted)
            continue;
        PyObject *row = Py_BuildValue("(inn)", (int)c, tables[c].counted, tables[c].evicted);
        if (row == NULL || PyList_Append(result, row) < 0)
            Py_CLEAR(result);
        Py_XDECREF(row);
    }
done:
    rule_tables_free(tables, cs->nconds);
    Py_XDECREF(pending);
    Py_XDECREF(st.stamp);
    Py_XDECREF(clock.stamp);
    Py_XDECREF(clock.t);
    Py_DECREF(now_obj);
    return result;
}

static Py_ssize_t CountSet_len(CountSet *cs) {
    return cs->counts.n;
}

static void CountSet_dealloc(CountSet *cs) {
    counts_free(&cs->counts);
    PyMem_Free(cs->order);
    Py_XDECREF(cs->out);
    Py_XDECREF(cs->cache);
    Py_XDECREF(cs->parse);
    Py_XDECREF(cs->default_time);
    Py_TYPE(cs)->tp_free((PyObject *)cs);
}

static PyMethodDef CountSet_methods[] = {
    {"items", (PyCFunction)CountSet_items, METH_NOARGS,
     "items() -> [(condition, (group-by texts), @timestamp, count, records)] in the engine's "
     "order."},
    {"observe", (PyCFunction)CountSet_observe, METH_VARARGS,
     "observe(tables, now, times, handle) -> [(condition, records counted, seeds dropped)]: "
     "seeds new groups below their threshold and counts into groups below it or firing "
     "silenced, in the rules' tables (per condition: (groups, need, span, SeedTable or None, "
     "Group, width) or None; late: at or before now - span), and hands every other count, in "
     "order, to "
     "handle(list of items)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods CountSet_sequence = {.sq_length = (lenfunc)CountSet_len};

PyTypeObject CountSetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.CountSet",
    .tp_basicsize = sizeof(CountSet),
    .tp_dealloc = (destructor)CountSet_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The counts of one encoded chunk, for the alert engine (see select.h).",
    .tp_methods = CountSet_methods,
    .tp_as_sequence = &CountSet_sequence,
};

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

PyObject *count_set_new(Counts *c, const Selector *sel, PyObject *out, PyObject *cache,
                        PyObject *parse, PyObject *default_time) {
    CountSet *cs = PyObject_New(CountSet, &CountSetType);
    if (cs == NULL)
        return NULL;
    cs->counts = *c;
    memset(c, 0, sizeof *c); /* the set frees them now */
    cs->order = PyMem_Malloc((size_t)(cs->counts.n ? cs->counts.n : 1) * sizeof(Py_ssize_t));
    Order *order = PyMem_Malloc((size_t)(cs->counts.n ? cs->counts.n : 1) * sizeof(Order));
    cs->ts_group = sel->ts_group;
    cs->nconds = sel->nconds;
    for (Py_ssize_t k = 0; k < sel->nconds; k++)
        cs->nparts[k] = sel->keys[k].nparts;
    Py_INCREF(out), Py_INCREF(cache), Py_INCREF(parse), Py_INCREF(default_time);
    cs->out = out, cs->cache = cache, cs->parse = parse, cs->default_time = default_time;
    if (cs->order == NULL || order == NULL) {
        PyMem_Free(order);
        Py_DECREF(cs);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t j = 0; j < cs->counts.n; j++)
        order[j] = (Order){cs->counts.items[j].cond, cs->counts.items[j].group, j};
    qsort(order, (size_t)cs->counts.n, sizeof(Order), order_cmp);
    for (Py_ssize_t j = 0; j < cs->counts.n; j++)
        cs->order[j] = order[j].index;
    PyMem_Free(order);
    return (PyObject *)cs;
}
