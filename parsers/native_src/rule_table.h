/* What CountSet.observe does to one alert rule's table of groups (rule_table.c): seed a new
 * group, or count into a group it holds, exactly as the engine's Python loop would
 * (logship/observe/alerts/runs.py, `observe_counts`; group.py, seeds.py, window.py). */
#ifndef LOGSHIP_RULE_TABLE_H
#define LOGSHIP_RULE_TABLE_H

#include "fastscan.h"
#include "seed_table.h"

typedef struct {
    PyObject *groups;     /* the table's OrderedDict of Groups (borrowed); NULL: the engine's
                             loop takes every count of this rule */
    SeedTable *seeds;     /* its seeds (borrowed); NULL: new groups are not seeded here */
    PyObject *group_type; /* the engine's Group class (borrowed) */
    PyObject *move_to_end; /* the table's method, looked up when first needed */
    Py_ssize_t need;
    double oldest, width; /* oldest: a count at or before it is late (the engine's loop) */
    Py_ssize_t counted, evicted; /* records counted here, seeds dropped here */
} RuleTable;

/* The per-rule specs of `observe` at clock time `now`: (groups, need, span, seeds or None,
   group_type, width) or None each, a count at or before `now - span` being late; -1 with an
   exception set when malformed. */
int rule_tables_load(PyObject *specs, double now, RuleTable *out, Py_ssize_t n);
void rule_tables_free(RuleTable *tables, Py_ssize_t n);

/* Makes the new group of `key` (its bytes: the rule's seeds know nothing of it) a seed
   (t, n, now): 1, or -1 on error. */
int rule_table_seed(RuleTable *r, const char *key, Py_ssize_t len, double t, Py_ssize_t n,
                    double now);

/* Counts `n` records at event time `t` (last: the last one's JSON line) into the group held at
   `key` when it is one of the engine loop's two common cases: below its threshold and not
   firing, or firing and silenced with no resolve check due. 1: counted; 0: not one of them
   (nothing changed: the engine's loop takes the count); -1: error. */
int rule_table_count(RuleTable *r, PyObject *key, PyObject *group, double t, PyObject *t_obj,
                     Py_ssize_t n, double now, PyObject *now_obj, const char *last,
                     Py_ssize_t last_len);

/* Interns the attribute names the above read; once, at module import. */
int rule_table_names(void);

#endif
