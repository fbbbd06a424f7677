/* One alert rule's table of groups as CountSet.observe changes it: see rule_table.h. Each
 * change mirrors a line of the engine's Python loop, so both leave the same table. */
#include "rule_table.h"

#include <structmember.h>

enum { N_WINDOW, N_ENTRIES, N_TOTAL, N_FIRING, N_SILENCED, N_RESOLVE, N_UPDATE, N_RECORD, N_ADD,
       N_NAMES };
static const char *NAMES[N_NAMES] = {"window",         "entries",       "total",
                                     "firing",         "silenced_until", "resolve_check",
                                     "last_update",    "last_record",   "add"};
static PyObject *names[N_NAMES];

int rule_table_names(void) {
    for (int k = 0; k < N_NAMES; k++)
        if (names[k] == NULL && (names[k] = PyUnicode_InternFromString(NAMES[k])) == NULL)
            return -1;
    return 0;
}

int rule_tables_load(PyObject *specs, double now, RuleTable *out, Py_ssize_t n) {
    for (Py_ssize_t c = 0; c < n; c++)
        out[c] = (RuleTable){NULL, NULL, NULL, NULL, 0, 0.0, 0.0, 0, 0};
    for (Py_ssize_t c = 0; c < n; c++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, c), *seeds;
        if (spec == Py_None)
            continue;
        RuleTable *r = &out[c];
        double span;
        if (!PyArg_ParseTuple(spec, "O!ndOO!d", &PyDict_Type, &r->groups, &r->need, &span,
                              &seeds, &PyType_Type, &r->group_type, &r->width)) {
            r->groups = NULL;
            return -1;
        }
        if (seeds != Py_None && !PyObject_TypeCheck(seeds, &SeedTableType)) {
            r->groups = NULL;
            PyErr_SetString(PyExc_TypeError, "a rule's seeds are a SeedTable or None");
            return -1;
        }
        r->seeds = seeds == Py_None ? NULL : (SeedTable *)seeds;
        r->oldest = now - span;
    }
    return 0;
}

void rule_tables_free(RuleTable *tables, Py_ssize_t n) {
    for (Py_ssize_t c = 0; c < n; c++)
        Py_XDECREF(tables[c].move_to_end);
}

int rule_table_seed(RuleTable *r, const char *key, Py_ssize_t len, double t, Py_ssize_t n,
                    double now) {
    int dropped = seed_table_add(r->seeds, key, len, t, n, now);
    if (dropped < 0)
        return -1;
    r->evicted += dropped;
    r->counted += n;
    return 1;
}

/* Where the slots (`__slots__`) of a type live in its objects, per name (0: not a plain
   object slot: read and written through the attribute machinery): the engine's Group and
   SlidingWindow are read and written a few times per count. */
typedef struct {
    PyTypeObject *type; /* held */
    Py_ssize_t offset[N_NAMES];
} SlotMap;

static SlotMap maps[4];

static Py_ssize_t slot_offset(PyTypeObject *type, int k) {
    SlotMap *map = NULL;
    for (int m = 0; m < 4 && map == NULL; m++) {
        if (maps[m].type == type)
            map = &maps[m];
        else if (maps[m].type == NULL) {
            map = &maps[m];
            Py_INCREF(type);
            map->type = type;
            for (int j = 0; j < N_NAMES; j++) {
                PyObject *d = PyObject_GetAttr((PyObject *)type, names[j]);
                map->offset[j] = 0;
                if (d == NULL) {
                    PyErr_Clear();
                    continue;
                }
                if (Py_IS_TYPE(d, &PyMemberDescr_Type)) {
                    const PyMemberDef *member = ((PyMemberDescrObject *)d)->d_member;
                    if (member->type == T_OBJECT_EX && !(member->flags & READONLY))
                        map->offset[j] = member->offset;
                }
                Py_DECREF(d);
            }
        }
    }
    return map == NULL ? 0 : map->offset[k];
}

/* `obj.<names[k]>` (a new reference; NULL with an exception set). */
static PyObject *get(PyObject *obj, int k) {
    Py_ssize_t offset = slot_offset(Py_TYPE(obj), k);
    PyObject *value = offset ? *(PyObject **)((char *)obj + offset) : NULL;
    if (value == NULL)
        return PyObject_GetAttr(obj, names[k]); /* (an unset slot raises there) */
    Py_INCREF(value);
    return value;
}

/* `obj.<names[k]> = value`; steals `value`. */
static int set_attr(PyObject *obj, int k, PyObject *value) {
    if (value == NULL)
        return -1;
    Py_ssize_t offset = slot_offset(Py_TYPE(obj), k);
    if (offset) {
        Py_XSETREF(*(PyObject **)((char *)obj + offset), value);
        return 0;
    }
    int failed = PyObject_SetAttr(obj, names[k], value);
    Py_DECREF(value);
    return failed;
}

/* `obj.<names[k]>` as a double; -1 with an exception set on error. */
static int float_attr(PyObject *obj, int k, double *value) {
    PyObject *v = get(obj, k);
    if (v == NULL)
        return -1;
    *value = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return *value == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int int_attr(PyObject *obj, int k, Py_ssize_t *value) {
    PyObject *v = get(obj, k);
    if (v == NULL)
        return -1;
    *value = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return *value == -1 && PyErr_Occurred() ? -1 : 0;
}

/* Whether `group` takes the count here (the checks of `observe_counts`, nothing changed):
   1 yes, 0 no, -1 error. `*newest`: the window's newest entry [t, n] (a new reference). */
static int takes(RuleTable *r, PyObject *group, PyObject *window, double t, Py_ssize_t n,
                 double now, int *firing, Py_ssize_t *total, PyObject **newest) {
    PyObject *entries = get(window, N_ENTRIES);
    if (entries == NULL)
        return -1;
    Py_ssize_t size = PyObject_Size(entries);
    *newest = size > 0 ? PySequence_GetItem(entries, size - 1) : NULL;
    Py_DECREF(entries);
    if (size <= 0 || *newest == NULL)
        return size < 0 || (size > 0 && *newest == NULL) ? -1 : 0;
    if (!PyList_CheckExact(*newest) || PyList_GET_SIZE(*newest) != 2)
        return 0;
    double newest_t = PyFloat_AsDouble(PyList_GET_ITEM(*newest, 0));
    if (newest_t == -1.0 && PyErr_Occurred())
        return -1;
    if (t <= newest_t - r->width) /* too old for the window: the engine's loop decides */
        return 0;
    PyObject *flag = get(group, N_FIRING);
    *firing = flag == NULL ? -1 : PyObject_IsTrue(flag);
    Py_XDECREF(flag);
    if (*firing < 0 || int_attr(window, N_TOTAL, total) < 0)
        return -1;
    if (!*firing)
        return *total + n < r->need; /* stays below its threshold */
    double silenced, resolve;
    if (float_attr(group, N_SILENCED, &silenced) < 0 || float_attr(group, N_RESOLVE, &resolve) < 0)
        return -1;
    return now < silenced && now < resolve; /* silenced, and no resolve check due */
}

int rule_table_count(RuleTable *r, PyObject *key, PyObject *group, double t, PyObject *t_obj,
                     Py_ssize_t n, double now, PyObject *now_obj, const char *last,
                     Py_ssize_t last_len) {
    if (Py_TYPE(group) != (PyTypeObject *)r->group_type)
        return 0; /* not the engine's own Group (a subclass): its slots may differ */
    PyObject *window = get(group, N_WINDOW), *newest = NULL;
    if (window == NULL)
        return -1;
    int firing = 0, result = -1;
    Py_ssize_t total = 0;
    int ok = takes(r, group, window, t, n, now, &firing, &total, &newest);
    if (ok <= 0) {
        result = ok;
        goto done;
    }
    if (r->move_to_end == NULL &&
        (r->move_to_end = PyObject_GetAttrString(r->groups, "move_to_end")) == NULL)
        goto done;
    PyObject *moved = PyObject_CallOneArg(r->move_to_end, key);
    if (moved == NULL)
        goto done;
    Py_DECREF(moved);
    PyObject *held = PyList_GET_ITEM(newest, 1);
    if (t == PyFloat_AsDouble(PyList_GET_ITEM(newest, 0)) && PyLong_CheckExact(held)) {
        /* SlidingWindow.add at its newest time: that entry and the total grow */
        Py_ssize_t was = PyLong_AsSsize_t(held);
        if (was == -1 && PyErr_Occurred())
            goto done;
        PyObject *grown = PyLong_FromSsize_t(was + n);
        if (grown == NULL || PyList_SetItem(newest, 1, grown) < 0 ||
            set_attr(window, N_TOTAL, PyLong_FromSsize_t(total + n)) < 0)
            goto done;
    } else { /* a newer time (the window slides) or an older one: the window's own add */
        PyObject *count = PyLong_FromSsize_t(n);
        PyObject *added = count == NULL ? NULL
                                        : PyObject_CallMethodObjArgs(window, names[N_ADD], t_obj,
                                                                     count, NULL);
        Py_XDECREF(count);
        if (added == NULL)
            goto done;
        Py_DECREF(added);
    }
    Py_INCREF(now_obj);
    if (set_attr(group, N_UPDATE, now_obj) < 0)
        goto done;
    if (firing && set_attr(group, N_RECORD, PyBytes_FromStringAndSize(last, last_len)) < 0)
        goto done; /* what its resolve shows */
    r->counted += n;
    result = 1;
done:
    Py_XDECREF(newest);
    Py_DECREF(window);
    return result;
}
