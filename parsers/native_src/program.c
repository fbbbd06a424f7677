/* Loading an Encoder's scan program and record template from the tuples Python built
 * (parsers/scan_program.py, parsers/record_template.py), checking every op and piece.
 */
#include "fastscan.h"

void fastscan_free(Encoder *e) {
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

int fastscan_load(Encoder *e, PyObject *program, PyObject *template) {
    fastscan_free(e);
    e->fixed = e->strings = e->others = 0;
    if (load_ops(e, program) < 0 || load_pieces(e, template) < 0)
        return -1;
    return 0;
}
