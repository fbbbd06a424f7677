/* The compiled selection of alert conditions and the per-chunk counts of what they select
 * (parsers/native_src/select.c; parsers/native_select.py builds a Selector's spec).
 *
 * A Selector decides, per encoded line, which conditions hold: each condition is a boolean
 * tree over "leaves" (one field's operators, `{field: status, gte: 500}`), each leaf is one
 * bit. An integer field's numeric leaves and a text field's `equals` / `in` are tested in C
 * (numbers compared as doubles, exact below 2**53; texts by their bytes); every other leaf is answered per
 * distinct value by a bounded memo filled by Python (`learn`), which runs the condition
 * language's own code, so the semantics are Python's by construction. The leaf bits map to
 * the condition bits through a second memo filled by Python (`combine`).
 * Counts then adds each selected line to its (condition, group-by values, timestamp text)
 * count, keeping the line of the last one: the alert engine reads a few counts per chunk
 * instead of a record per match.
 */
#ifndef LOGSHIP_SELECT_H
#define LOGSHIP_SELECT_H

#include "fastscan.h"

typedef struct {
    uint64_t hash;
    Py_ssize_t at, len; /* the key's bytes in the arena; len < 0: an empty slot */
    uint64_t bits;
} MemoSlot;

typedef struct {
    MemoSlot *slots;
    Py_ssize_t cap, used; /* cap: a power of two */
    char *arena;
    Py_ssize_t arena_used, arena_size;
    uint64_t epoch; /* counts the clears (a Recent entry of an older epoch is void) */
} Memo;

/* A value met lately and its bits, in front of the memo: a field's values repeat (user agents,
   URLs), and a sketch of a value's length and ends is cheaper than hashing all of it. */
typedef struct {
    uint64_t sketch, epoch, bits;
    Py_ssize_t at, len; /* the value's bytes in the memo's arena */
} Recent;

#define RECENT 64

typedef struct {
    uint64_t leaf; /* the bit of the leaf this test belongs to */
    int op;        /* T_* */
    double *values;
    Py_ssize_t nvalues;
    char **texts; /* T_TEXT: the texts of which the value must be one */
    Py_ssize_t *lens;
    uint64_t *words; /* T_TEXT: each text of 8 bytes or fewer, as a zero-padded word */
} Test;

typedef struct {
    long long x;
    uint64_t bits;
    int known;
} IntNear;

typedef struct {
    int group, is_int;
    IntNear near[64]; /* an integer field's last values and their direct bits, direct-mapped */
    uint64_t leaves;  /* every leaf bit of this field */
    uint64_t direct;  /* the bits decided by `tests` in C (numbers and equal texts) */
    Test *tests;
    Py_ssize_t ntests;
    PyObject *learn; /* bytes -> int: the bits of every leaf of the field, for that value */
    Memo memo;
    Recent recent[RECENT];
} Field;

typedef struct {
    int group, is_int;
} KeyPart;

typedef struct {
    KeyPart *parts;
    Py_ssize_t nparts;
} CountKey;

#define NEAR 64

typedef struct {
    uint64_t leaves, bits;
    int known;
} Combo;

typedef struct {
    PyObject_HEAD
    Field *fields;
    Py_ssize_t nfields;
    PyObject *combine; /* int leaf bits -> int condition bits */
    Memo combos;       /* leaf bits (8 bytes) -> condition bits */
    Combo near[NEAR];  /* the last of them seen, direct-mapped */
    CountKey *keys;    /* per condition: the fields that group its counts */
    Py_ssize_t nconds;
    int ts_group; /* the group of the timestamp text; 0: the chunk's read time */
    int busy;     /* set (under the GIL) while an encode uses it without the GIL */
} Selector;

typedef struct {
    uint64_t hash, head_hash;
    Py_ssize_t key_at, key_len, head_len; /* head: the condition and group-by values */
    int cond;
    Py_ssize_t count;
    Py_ssize_t group;       /* the index of its group's first count */
    Py_ssize_t first, last; /* its records, a list through Hit.next */
} Count;

typedef struct {
    Py_ssize_t from, to, next; /* a record at out[from:to]; next: the count's next, or -1 */
} Hit;

typedef struct {
    Py_ssize_t *slots; /* item index + 1; 0: empty */
    Py_ssize_t cap;
} Table;

typedef struct {
    Count *items;
    Py_ssize_t n, room;
    Table table;  /* counts by their whole key */
    Table groups; /* the first count of each (condition, values), by its head */
    Py_ssize_t ngroups;
    Hit *hits;
    Py_ssize_t nhits, hits_room;
    char *arena;
    Py_ssize_t arena_used, arena_size;
} Counts;

/* A fast 64-bit hash of bytes (memos and counts): two independent lanes of 8 bytes, the tail
   as one overlapping 8-byte load (no byte loop). */
static inline uint64_t hash_bytes(const uint8_t *s, Py_ssize_t n) {
    uint64_t a = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, b = 0x2545F4914F6CDD1DULL, v, w;
    if (n < 8) {
        v = 0;
        memcpy(&v, s, (size_t)n);
        a = (a ^ v) * 0xff51afd7ed558ccdULL;
    } else {
        Py_ssize_t i = 0;
        for (; i + 16 <= n; i += 16) {
            memcpy(&v, s + i, 8);
            memcpy(&w, s + i + 8, 8);
            a = (a ^ v) * 0xff51afd7ed558ccdULL;
            b = (b ^ w) * 0xc4ceb9fe1a85ec53ULL;
            a ^= a >> 32, b ^= b >> 29;
        }
        memcpy(&v, s + n - 8, 8); /* the last 8 bytes (some hashed already: still a function
                                     of the bytes and the length) */
        if (i + 8 < n) {
            memcpy(&w, s + i, 8);
            b = (b ^ w) * 0xc4ceb9fe1a85ec53ULL;
        }
        a = (a ^ v) * 0xff51afd7ed558ccdULL;
    }
    uint64_t h = (a ^ (b >> 31)) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

extern PyTypeObject SelectorType;
extern PyTypeObject CountRecordsType;
extern PyTypeObject CountSetType;

/* The bits of the conditions that hold for a line whose groups are at `spans`; -1 on error
   (an exception set). Runs with the GIL released (`gil`), taking it to fill a memo. */
int selector_conditions(Selector *sel, Gil *gil, const uint8_t *s, const Py_ssize_t *spans,
                        uint64_t *bits);

/* Counts a line (its record at out[from:to]) for condition `cond`; -1 when out of memory
   (no exception set: it runs with the GIL released). */
int counts_add(Counts *c, const Selector *sel, int cond, const uint8_t *s,
               const Py_ssize_t *spans, Py_ssize_t from, Py_ssize_t to);

/* The chunk's counts as a CountSet (parsers/native_src/count_set.c), which takes them over
   (`c` is left empty): its items are (condition, (group-by texts), @timestamp, count,
   records) in the order the alert engine takes selected records in: by condition, then group
   (its first line), then timestamp (its first line in the group). `records` is a sequence of
   the count's records as JSON lines (slices of `out`, made when read). `cache` maps the raw
   timestamp text to @timestamp (`parse` when it forgot it), the chunk's `default_time` is
   @timestamp without one. NULL on error. */
PyObject *count_set_new(Counts *c, const Selector *sel, PyObject *out, PyObject *cache,
                        PyObject *parse, PyObject *default_time);

/* The highest group number the selector reads (the encoder checks it has that many). */
int selector_max_group(const Selector *sel);

void counts_free(Counts *c);

#endif
