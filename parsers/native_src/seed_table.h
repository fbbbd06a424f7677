/* SeedTable: an alert rule's groups seen once, below its threshold (seed_table.c: the table;
 * seed_table_type.c: the Python type).
 *
 * A seed is a group's first records, all at one event time: (t, n, now). Most groups of a
 * rule grouped by source address are seen once and forgotten, so seeds are kept apart from
 * the groups proper, here in plain C memory: a hash index over the key's bytes and a queue
 * in the order they came, at most `capacity` of them (the oldest makes room for a new one).
 * Python reaches it with group keys (tuples of str), CountSet.observe with the key bytes of
 * its counts; both name a key by the same bytes: each part's UTF-8 after its length as
 * 4 native-order bytes. It also knows the keys of the rule's groups (the group table tells it:
 * `join`, `leave`), so that CountSet.observe tells a new group from a known one by the bytes
 * alone, without a Python object. The alert engine's pure-Python twin is
 * logship/observe/alerts/seeds.py: the same operations give the same results.
 */
#ifndef LOGSHIP_SEED_TABLE_H
#define LOGSHIP_SEED_TABLE_H

#include "fastscan.h"

#define INLINE_KEY 40

typedef struct {
    char *heap; /* its bytes when longer than INLINE_KEY (else in `inline_key`: no pointer to
                   it is kept, the entries move when they grow) */
    Py_ssize_t len; /* -1: a free entry */
    uint64_t hash;
    double t, now;
    Py_ssize_t n;
    Py_ssize_t older, newer; /* the queue (entry numbers, -1 at its ends); newer: free list */
    int group;               /* a key of the rule's groups (no seed: not queued) */
    PyObject *key;           /* a group's: the key as the group table holds it (held) */
    char inline_key[INLINE_KEY];
} SeedEntry;

static inline const char *seed_bytes(const SeedEntry *e) {
    return e->heap != NULL ? e->heap : e->inline_key;
}

typedef struct SeedTable {
    PyObject_HEAD
    SeedEntry *entries;
    Py_ssize_t capacity, count, room; /* count: seeds; room: entries allocated */
    Py_ssize_t groups;                 /* keys of the rule's groups held (`join`) */
    Py_ssize_t *index; /* entry number + 1 (0: empty); mask + 1 slots, at least 2 * room */
    Py_ssize_t mask;
    Py_ssize_t oldest, newest, free;
} SeedTable;

/* The core (seed_table.c) the type (seed_table_type.c) is made of. */
Py_ssize_t seed_table_slot(const SeedTable *st, const char *key, Py_ssize_t len, uint64_t h,
                           int *found);
void seed_table_unqueue(SeedTable *st, SeedEntry *e);
void seed_table_drop(SeedTable *st, Py_ssize_t i);
void seed_table_drop_oldest(SeedTable *st); /* (a seed: the queue is not empty) */
int seed_table_make_room(SeedTable *st, Py_ssize_t room);
Py_ssize_t seed_table_new_entry(SeedTable *st, const char *key, Py_ssize_t len, int group);

extern PyTypeObject SeedTableType;

/* What the table knows of the key of these bytes: 0 nothing (a new group), 1 its seed, 2 it
   is a key of the rule's groups (`join`; then *group_key: that key as the group table holds
   it, borrowed). */
int seed_table_kind(SeedTable *st, const char *key, Py_ssize_t len, PyObject **group_key);

/* Adds a seed for a key it does not know; 1 when the oldest seed made room, 0 when not, -1
   out of memory (an exception set). */
int seed_table_add(SeedTable *st, const char *key, Py_ssize_t len, double t, Py_ssize_t n,
                   double now);

#endif
