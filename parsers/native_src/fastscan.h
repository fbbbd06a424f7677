/* The compiled fast path's shared declarations (parsers/_fastscan.c, parsers/native_src/).
 *
 * An Encoder holds a rule's scan program (Op) and record template (Piece), loaded by
 * program.c; _fastscan.c runs them; lines.c splits ASCII chunks into lines.
 */
#ifndef LOGSHIP_FASTSCAN_H
#define LOGSHIP_FASTSCAN_H

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
    int busy;           /* set (under the GIL) while an encode runs without the GIL */
} Encoder;

/* The GIL of a call that releases it for its C loop and takes it back only to call Python
   (a value looked up, a memo filled) and at the end: `saved` is non-NULL while released.
   Code that may run released allocates with PyMem_Raw* and reports running out of memory by
   returning -1 with no exception set; the caller sets it once it holds the GIL again. */
typedef struct {
    PyThreadState *saved;
} Gil;

static inline void gil_take(Gil *g) {
    if (g != NULL && g->saved != NULL) {
        PyEval_RestoreThread(g->saved);
        g->saved = NULL;
    }
}

static inline void gil_drop(Gil *g) {
    if (g != NULL && g->saved == NULL)
        g->saved = PyEval_SaveThread();
}

/* Loads `program` (scan_program.py's ops) and `template` (record_template.py's pieces) into
   `e`, replacing what it held; -1 with an exception set on a malformed one. */
int fastscan_load(Encoder *e, PyObject *program, PyObject *template);

/* Frees what fastscan_load allocated. */
void fastscan_free(Encoder *e);

/* split_lines(data, start) -> (texts, starts, longest): see lines.c. */
PyObject *fastscan_split_lines(PyObject *self, PyObject *args);

#endif
