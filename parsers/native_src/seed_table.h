/* SeedTable: an alert rule's groups seen once, below its threshold (seed_table.c).
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

typedef struct SeedTable SeedTable;

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
