/* The scan program of an Encoder run on one line: shared by the encode loop (_fastscan.c)
 * and the selection it defers (selected.c), which scans a chunk's lines again on the alerts
 * thread rather than keep every line's spans. Inline: it is the encode loop's inner step. */
#ifndef LOGSHIP_SCAN_H
#define LOGSHIP_SCAN_H

#include "fastscan.h"

/* Runs the program on `s`; fills spans[2g], spans[2g+1]; 1 on a match. */
static inline int fastscan_scan(const Encoder *e, const uint8_t *s, Py_ssize_t n, Py_ssize_t *spans) {
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

#endif
