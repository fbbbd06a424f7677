/* SeedTable as Python sees it: keys as tuples of str, the type object (see seed_table.h). */
#include "seed_table.h"
#include "select.h" /* hash_bytes */

#include <structmember.h>

/* --- Python's side: keys as tuples of str ----------------------------------------------- */

/* The bytes of a group key (a tuple of str) into *out (PyMem_Malloc'd); -1 on error. */
static Py_ssize_t key_bytes(PyObject *key, char **out) {
    if (!PyTuple_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "a group key is a tuple of str");
        return -1;
    }
    Py_ssize_t total = 0, parts = PyTuple_GET_SIZE(key);
    for (Py_ssize_t p = 0; p < parts; p++) {
        Py_ssize_t n;
        PyObject *part = PyTuple_GET_ITEM(key, p);
        if (!PyUnicode_Check(part) || PyUnicode_AsUTF8AndSize(part, &n) == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "a group key is a tuple of str");
            return -1;
        }
        total += 4 + n;
    }
    char *bytes = PyMem_Malloc((size_t)(total ? total : 1));
    if (bytes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t p = 0; p < parts; p++) {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(key, p), &n);
        uint32_t len = (uint32_t)n;
        memcpy(bytes + at, &len, 4);
        memcpy(bytes + at + 4, text, (size_t)n);
        at += 4 + n;
    }
    *out = bytes;
    return total;
}

static PyObject *key_tuple(const SeedEntry *e) {
    Py_ssize_t parts = 0;
    for (Py_ssize_t at = 0; at < e->len; parts++) {
        uint32_t len;
        memcpy(&len, seed_bytes(e) + at, 4);
        at += 4 + (Py_ssize_t)len;
    }
    PyObject *key = PyTuple_New(parts);
    Py_ssize_t at = 0;
    for (Py_ssize_t p = 0; key != NULL && p < parts; p++) {
        uint32_t len;
        memcpy(&len, seed_bytes(e) + at, 4);
        PyObject *text = PyUnicode_DecodeUTF8(seed_bytes(e) + at + 4, (Py_ssize_t)len, NULL);
        if (text == NULL)
            Py_CLEAR(key);
        else
            PyTuple_SET_ITEM(key, p, text);
        at += 4 + (Py_ssize_t)len;
    }
    return key;
}

static PyObject *seed_of(const SeedEntry *e) {
    return Py_BuildValue("(dnd)", e->t, e->n, e->now);
}

static int SeedTable_init(SeedTable *st, PyObject *args, PyObject *kwds) {
    static char *names[] = {"capacity", NULL};
    Py_ssize_t capacity;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", names, &capacity))
        return -1;
    if (capacity < 1) {
        PyErr_SetString(PyExc_ValueError, "a SeedTable holds at least one seed");
        return -1;
    }
    if (st->entries != NULL || st->index != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a SeedTable is made once");
        return -1;
    }
    st->capacity = capacity, st->count = 0, st->room = 0, st->mask = -1;
    st->oldest = st->newest = st->free = -1;
    return seed_table_make_room(st, capacity < 64 ? capacity : 64);
}

static void SeedTable_dealloc(SeedTable *st) {
    for (Py_ssize_t k = 0; st->entries != NULL && k < st->room; k++) {
        PyMem_Free(st->entries[k].heap); /* (NULL in a free entry) */
        Py_CLEAR(st->entries[k].key);
    }
    PyMem_Free(st->entries);
    PyMem_Free(st->index);
    Py_TYPE(st)->tp_free((PyObject *)st);
}

/* The slot of a Python key; -1 on error (*found set otherwise). */
static Py_ssize_t slot_of_key(SeedTable *st, PyObject *key, int *found) {
    if (st->index == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a SeedTable not made");
        return -1;
    }
    char *bytes;
    Py_ssize_t len = key_bytes(key, &bytes);
    if (len < 0)
        return -1;
    Py_ssize_t i = seed_table_slot(st, bytes, len, hash_bytes((const uint8_t *)bytes, len), found);
    PyMem_Free(bytes);
    return i;
}

/* Whether slot `i` (found) holds a seed, not a group's key. */
static int is_seed(const SeedTable *st, Py_ssize_t i, int found) {
    return found && !st->entries[st->index[i] - 1].group;
}

static int SeedTable_contains(SeedTable *st, PyObject *key) {
    int found;
    Py_ssize_t i = slot_of_key(st, key, &found);
    return i < 0 ? -1 : is_seed(st, i, found);
}

static Py_ssize_t SeedTable_len(SeedTable *st) {
    return st->count;
}

static PyObject *SeedTable_put(SeedTable *st, PyObject *args) {
    PyObject *key;
    double t, now;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "Odnd", &key, &t, &n, &now))
        return NULL;
    int found;
    if (slot_of_key(st, key, &found) < 0)
        return NULL;
    if (found) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    char *bytes;
    Py_ssize_t len = key_bytes(key, &bytes);
    if (len < 0)
        return NULL;
    int dropped = seed_table_add(st, bytes, len, t, n, now);
    PyMem_Free(bytes);
    return dropped < 0 ? NULL : PyBool_FromLong(dropped);
}

static PyObject *SeedTable_take(SeedTable *st, PyObject *key) {
    int found;
    Py_ssize_t i = slot_of_key(st, key, &found);
    if (i < 0)
        return NULL;
    if (!is_seed(st, i, found))
        Py_RETURN_NONE;
    PyObject *seed = seed_of(&st->entries[st->index[i] - 1]);
    if (seed != NULL)
        seed_table_drop(st, i);
    return seed;
}

static PyObject *SeedTable_join(SeedTable *st, PyObject *key) {
    int found;
    Py_ssize_t i = slot_of_key(st, key, &found);
    if (i < 0)
        return NULL;
    SeedEntry *e = found ? &st->entries[st->index[i] - 1] : NULL;
    if (e != NULL && e->group)
        Py_RETURN_NONE;
    if (e != NULL) { /* its seed: the key stays, now a group's */
        PyObject *seed = seed_of(e);
        if (seed != NULL) {
            seed_table_unqueue(st, e);
            e->group = 1;
            Py_INCREF(key);
            e->key = key;
            st->groups++;
        }
        return seed;
    }
    char *bytes;
    Py_ssize_t len = key_bytes(key, &bytes);
    if (len < 0)
        return NULL;
    Py_ssize_t k = seed_table_new_entry(st, bytes, len, 1);
    PyMem_Free(bytes);
    if (k < 0)
        return NULL;
    Py_INCREF(key);
    st->entries[k].key = key;
    Py_RETURN_NONE;
}

static PyObject *SeedTable_knows(SeedTable *st, PyObject *key) {
    char *bytes;
    if (st->index == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a SeedTable not made");
        return NULL;
    }
    Py_ssize_t len = key_bytes(key, &bytes);
    if (len < 0)
        return NULL;
    PyObject *group_key;
    int kind = seed_table_kind(st, bytes, len, &group_key);
    PyMem_Free(bytes);
    return PyLong_FromLong(kind);
}

static PyObject *SeedTable_leave(SeedTable *st, PyObject *key) {
    int found;
    Py_ssize_t i = slot_of_key(st, key, &found);
    if (i < 0)
        return NULL;
    if (found && st->entries[st->index[i] - 1].group)
        seed_table_drop(st, i);
    Py_RETURN_NONE;
}

static PyObject *SeedTable_items(SeedTable *st, PyObject *unused) {
    (void)unused;
    PyObject *list = PyList_New(0);
    for (Py_ssize_t k = st->oldest; list != NULL && k >= 0; k = st->entries[k].newer) {
        PyObject *key = key_tuple(&st->entries[k]), *seed = key ? seed_of(&st->entries[k]) : NULL;
        PyObject *item = seed ? PyTuple_Pack(2, key, seed) : NULL;
        Py_XDECREF(key);
        Py_XDECREF(seed);
        if (item == NULL || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

static PyObject *SeedTable_forget(SeedTable *st, PyObject *arg) {
    double before = PyFloat_AsDouble(arg);
    if (before == -1.0 && PyErr_Occurred())
        return NULL;
    Py_ssize_t dropped = 0;
    while (st->oldest >= 0 && st->entries[st->oldest].now <= before) {
        seed_table_drop_oldest(st);
        dropped++;
    }
    return PyLong_FromSsize_t(dropped);
}

static PyMethodDef SeedTable_methods[] = {
    {"put", (PyCFunction)SeedTable_put, METH_VARARGS,
     "put(key, t, n, now) -> bool: a seed for a key not held, newest; True when the oldest "
     "seed was dropped to make room."},
    {"take", (PyCFunction)SeedTable_take, METH_O,
     "take(key) -> (t, n, now) or None: the key's seed, no longer held."},
    {"join", (PyCFunction)SeedTable_join, METH_O,
     "join(key) -> (t, n, now) or None: the key is a group's now (its seed, if it had one, "
     "taken and returned); CountSet.observe then leaves its counts to the groups."},
    {"leave", (PyCFunction)SeedTable_leave, METH_O,
     "leave(key): the key is no longer a group's (the group was dropped)."},
    {"knows", (PyCFunction)SeedTable_knows, METH_O,
     "knows(key) -> 0, 1 or 2: what CountSet.observe reads of a key: nothing, a seed, a "
     "group's key."},
    {"items", (PyCFunction)SeedTable_items, METH_NOARGS,
     "items() -> [(key, (t, n, now))], oldest first."},
    {"forget", (PyCFunction)SeedTable_forget, METH_O,
     "forget(before) -> int: drops the oldest seeds while their clock time is at or before "
     "`before`; how many."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef SeedTable_members[] = {
    {"capacity", T_PYSSIZET, offsetof(SeedTable, capacity), READONLY, "Seeds held at most."},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods SeedTable_sequence = {
    .sq_length = (lenfunc)SeedTable_len,
    .sq_contains = (objobjproc)SeedTable_contains,
};

PyTypeObject SeedTableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.SeedTable",
    .tp_basicsize = sizeof(SeedTable),
    .tp_dealloc = (destructor)SeedTable_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SeedTable(capacity): an alert rule's groups seen once (see seed_table.h).",
    .tp_methods = SeedTable_methods,
    .tp_members = SeedTable_members,
    .tp_as_sequence = &SeedTable_sequence,
    .tp_init = (initproc)SeedTable_init,
    .tp_new = PyType_GenericNew,
};
