/* Selected: the lines of one chunk an Encoder encoded, their alert conditions still to decide.
 *
 * A selecting encode (Encoder.encode with a Selector) does not decide the conditions in its
 * own loop: it keeps, per line it encoded, the line's index, where its record ends in the
 * chunk's output and the spans of the groups the Selector reads, and hands back a Selected.
 * The alert engine calls `count()` on its own thread (logship/observe/alerts/handoff.py):
 * the lines are decided and counted there with the GIL released, so the tailer's loop pays
 * only for the bookkeeping and the second core does the deciding. (Scanning the lines again
 * instead of keeping spans cost more than deciding them.)
 */
#include "fastscan.h"
#include "select.h"

typedef struct {
    PyObject_HEAD
    Encoder *encoder;  /* its scan program, and the timestamp cache of its counts */
    Selector *selector;
    PyObject *held;    /* the chunk's lines (a list of ASCII str of our own) */
    PyObject *out;     /* the chunk's records as the encoder wrote them (bytes) */
    PyObject *default_time;
    Py_ssize_t *lines; /* per line encoded: its index in `held`, its record's end in `out`,
                          the spans of `groups` */
    Py_ssize_t n;
    int *groups;
    int ngroups;
    PyObject *counted; /* the CountSet, once counted */
} Selected;

PyObject *selected_new(Encoder *e, Selector *sel, PyObject *held, PyObject *out,
                       PyObject *default_time, Py_ssize_t *lines, Py_ssize_t n,
                       const int *groups, int ngroups) {
    Selected *s = PyObject_New(Selected, &SelectedType);
    int *own = PyMem_RawMalloc((size_t)(ngroups ? ngroups : 1) * sizeof(int));
    if (s == NULL || own == NULL) {
        PyMem_RawFree(lines);
        PyMem_RawFree(own);
        if (s != NULL)
            PyObject_Free(s);
        return PyErr_NoMemory();
    }
    memcpy(own, groups, (size_t)ngroups * sizeof(int));
    Py_INCREF(e);
    Py_INCREF(sel);
    Py_INCREF(held);
    Py_INCREF(out);
    Py_INCREF(default_time);
    s->encoder = e, s->selector = sel, s->held = held, s->out = out;
    s->default_time = default_time, s->lines = lines, s->n = n, s->counted = NULL;
    s->groups = own, s->ngroups = ngroups;
    return (PyObject *)s;
}

/* The conditions of `sel` that hold for a line (its record at out[from:to]), each counted;
   -1 on error (an exception set, or none when out of memory). */
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

/* Every line decided and counted, run with the GIL released (`gil`); -1 on error (an
   exception set, or none when out of memory). */
static int select_lines(const Selected *s, Gil *gil, Counts *counts) {
    const Encoder *e = s->encoder;
    Py_ssize_t *spans = PyMem_RawCalloc((size_t)(2 * (e->groups + 1)), sizeof(Py_ssize_t));
    if (spans == NULL)
        return -1;
    Py_ssize_t from = 0, stride = 2 + 2 * s->ngroups;
    for (Py_ssize_t k = 0; k < s->n; k++) {
        const Py_ssize_t *row = s->lines + k * stride;
        for (int j = 0; j < s->ngroups; j++) {
            spans[2 * s->groups[j]] = row[2 + 2 * j];
            spans[2 * s->groups[j] + 1] = row[3 + 2 * j];
        }
        if (select_line(s->selector, gil, counts,
                        PyUnicode_1BYTE_DATA(PyList_GET_ITEM(s->held, row[0])), spans, from,
                        row[1]) < 0) {
            PyMem_RawFree(spans);
            return -1;
        }
        from = row[1];
    }
    PyMem_RawFree(spans);
    return 0;
}

/* Decides and counts every Selected of `items` not counted yet, with one release of the GIL;
   -1 on error (an exception set). */
static int count_some(Selected **items, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++)
        if (items[k]->counted == NULL && items[k]->selector->busy) {
            PyErr_SetString(PyExc_RuntimeError, "the Selector is in use by another count");
            return -1;
        }
    Counts *counts = PyMem_RawCalloc((size_t)(n ? n : 1), sizeof(Counts));
    if (counts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        items[k]->selector->busy = 1;
        items[k]->encoder->readers++; /* its program must not be reloaded meanwhile */
    }
    Gil gil = {NULL};
    int failed = 0;
    gil_drop(&gil);
    for (Py_ssize_t k = 0; k < n && !failed; k++)
        if (items[k]->counted == NULL)
            failed = select_lines(items[k], &gil, &counts[k]);
    gil_take(&gil);
    for (Py_ssize_t k = 0; k < n; k++) {
        items[k]->selector->busy = 0;
        items[k]->encoder->readers--;
    }
    for (Py_ssize_t k = 0; k < n && !failed; k++) {
        Selected *s = items[k];
        if (s->counted != NULL)
            continue;
        s->counted = count_set_new(&counts[k], s->selector, s->out, s->encoder->cache,
                                   s->encoder->parse, s->default_time);
        if (s->counted == NULL) {
            failed = -1;
            break;
        }
        /* the lines are no longer needed: a counted chunk holds its counts' records only */
        Py_CLEAR(s->held);
        PyMem_RawFree(s->lines);
        s->lines = NULL, s->n = 0;
    }
    for (Py_ssize_t k = 0; k < n; k++)
        counts_free(&counts[k]);
    PyMem_RawFree(counts);
    if (failed < 0 && !PyErr_Occurred())
        PyErr_NoMemory();
    return failed;
}

static PyObject *Selected_count(Selected *s, PyObject *unused) {
    if (count_some(&s, 1) < 0)
        return NULL;
    Py_INCREF(s->counted);
    return s->counted;
}

static PyObject *Selected_count_all(PyObject *unused, PyObject *list) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "a list of Selected is needed");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t k = 0; k < n; k++)
        if (!PyObject_TypeCheck(PyList_GET_ITEM(list, k), &SelectedType)) {
            PyErr_SetString(PyExc_TypeError, "a list of Selected is needed");
            return NULL;
        }
    /* the list is ours while we count: a copy, in case the caller changes it */
    PyObject *held = PyList_GetSlice(list, 0, n);
    if (held == NULL)
        return NULL;
    int failed = count_some((Selected **)((PyListObject *)held)->ob_item, n);
    Py_DECREF(held);
    if (failed < 0)
        return NULL;
    Py_RETURN_NONE;
}

static void Selected_dealloc(Selected *s) {
    Py_XDECREF(s->encoder);
    Py_XDECREF(s->selector);
    Py_XDECREF(s->held);
    Py_XDECREF(s->out);
    Py_XDECREF(s->default_time);
    Py_XDECREF(s->counted);
    PyMem_RawFree(s->lines);
    PyMem_RawFree(s->groups);
    PyObject_Free(s);
}

static PyMethodDef Selected_methods[] = {
    {"count", (PyCFunction)Selected_count, METH_NOARGS,
     "count() -> CountSet: the lines' conditions decided and counted (once; then the same)"},
    {"count_all", (PyCFunction)Selected_count_all, METH_O | METH_STATIC,
     "count_all([Selected, ...]): counts each (as count() does) with one release of the GIL"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject SelectedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parsers._fastscan.Selected",
    .tp_basicsize = sizeof(Selected),
    .tp_dealloc = (destructor)Selected_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A chunk's encoded lines, their alert conditions decided by count(): see "
              "parsers/native_src/selected.c.",
    .tp_methods = Selected_methods,
};
