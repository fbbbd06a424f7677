/* Splitting an ASCII chunk into lines (the framer's hot path, logship/tail/framing.py). */
#include "fastscan.h"

#define HIGHS 0x8080808080808080ULL

/* split_lines(data, start) -> (texts, starts, longest): the lines of ASCII `data`, which ends
   with a newline, as str without it; the file offset of each; the length of the longest. The
   framer's hot path (logship/tail/framing.py): one pass, no intermediate bytes objects. */
PyObject *fastscan_split_lines(PyObject *self, PyObject *args) {
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

