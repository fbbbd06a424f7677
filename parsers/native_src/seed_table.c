/* SeedTable: see seed_table.h. Linear probing over entry numbers, removal by backward shift
 * (no tombstones), and a queue through the entries, oldest first. Entries and index grow by
 * doubling up to the capacity: a large `max_groups` costs memory only once it fills. */
#include "seed_table.h"
#include "select.h" /* hash_bytes */

/* The slot of a key: where it is (*found) or the empty slot where it would go. */
Py_ssize_t seed_table_slot(const SeedTable *st, const char *key, Py_ssize_t len, uint64_t h,
                           int *found) {
    Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)st->mask);
    for (; st->index[i]; i = (i + 1) & st->mask) {
        const SeedEntry *e = &st->entries[st->index[i] - 1];
        if (e->hash == h && e->len == len && memcmp(seed_bytes(e), key, (size_t)len) == 0) {
            *found = 1;
            return i;
        }
    }
    *found = 0;
    return i;
}

/* Empties slot `i` and moves later entries of its run back so that every one stays reachable. */
static void unindex(SeedTable *st, Py_ssize_t i) {
    st->index[i] = 0;
    for (Py_ssize_t j = (i + 1) & st->mask; st->index[j]; j = (j + 1) & st->mask) {
        Py_ssize_t home = (Py_ssize_t)(st->entries[st->index[j] - 1].hash & (uint64_t)st->mask);
        /* stays when its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            st->index[i] = st->index[j];
            st->index[j] = 0;
            i = j;
        }
    }
}

/* Takes a seed's entry out of the queue. */
void seed_table_unqueue(SeedTable *st, SeedEntry *e) {
    if (e->older >= 0)
        st->entries[e->older].newer = e->newer;
    else
        st->oldest = e->newer;
    if (e->newer >= 0)
        st->entries[e->newer].older = e->older;
    else
        st->newest = e->older;
    st->count--;
}

/* Drops the entry in slot `i` (its seed read first by the caller when wanted). */
void seed_table_drop(SeedTable *st, Py_ssize_t i) {
    Py_ssize_t k = st->index[i] - 1;
    SeedEntry *e = &st->entries[k];
    unindex(st, i);
    if (e->group)
        st->groups--;
    else
        seed_table_unqueue(st, e);
    PyMem_Free(e->heap);
    e->heap = NULL;
    e->len = -1;
    e->newer = st->free;
    st->free = k;
    Py_CLEAR(e->key); /* (last: its deallocation may run code) */
}

int seed_table_kind(SeedTable *st, const char *key, Py_ssize_t len, PyObject **group_key) {
    int found;
    Py_ssize_t i = seed_table_slot(st, key, len, hash_bytes((const uint8_t *)key, len), &found);
    const SeedEntry *e = found ? &st->entries[st->index[i] - 1] : NULL;
    *group_key = e != NULL && e->group ? e->key : NULL;
    return e == NULL ? 0 : e->group ? 2 : 1;
}

/* Entries for `room` seeds (more than now, at most the capacity), and an index for them;
   -1 out of memory (an exception set; the table unchanged). */
int seed_table_make_room(SeedTable *st, Py_ssize_t room) {
    Py_ssize_t slots = 16;
    while (slots < 2 * room)
        slots *= 2;
    SeedEntry *entries = PyMem_Realloc(st->entries, (size_t)room * sizeof(SeedEntry));
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    st->entries = entries;
    if (slots > st->mask + 1) {
        Py_ssize_t *index = PyMem_Calloc((size_t)slots, sizeof(Py_ssize_t));
        if (index == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        PyMem_Free(st->index);
        st->index = index, st->mask = slots - 1;
        for (Py_ssize_t k = 0; k < st->room; k++) { /* seeds and groups' keys alike */
            if (entries[k].len < 0)
                continue;
            Py_ssize_t i = (Py_ssize_t)(entries[k].hash & (uint64_t)st->mask);
            while (index[i])
                i = (i + 1) & st->mask;
            index[i] = k + 1;
        }
    }
    for (Py_ssize_t k = room - 1; k >= st->room; k--) { /* the new entries: free */
        entries[k].heap = NULL;
        entries[k].key = NULL;
        entries[k].len = -1;
        entries[k].newer = st->free;
        st->free = k;
    }
    st->room = room;
    return 0;
}

/* A new entry for a key it does not hold (a seed, newest in the queue, or a group's key);
   its number, or -1 out of memory (an exception set). */
Py_ssize_t seed_table_new_entry(SeedTable *st, const char *key, Py_ssize_t len, int group) {
    if (st->free < 0) { /* seeds and groups' keys: about `capacity` of each */
        Py_ssize_t room = 2 * st->room < 2 * st->capacity ? 2 * st->room : 2 * st->capacity;
        if (seed_table_make_room(st, room > st->room ? room : st->room + 1) < 0)
            return -1;
    }
    int found;
    uint64_t h = hash_bytes((const uint8_t *)key, len);
    Py_ssize_t i = seed_table_slot(st, key, len, h, &found);
    Py_ssize_t k = st->free;
    SeedEntry *e = &st->entries[k];
    char *heap = len <= INLINE_KEY ? NULL : PyMem_Malloc((size_t)len);
    if (len > INLINE_KEY && heap == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    st->free = e->newer;
    memcpy(heap != NULL ? heap : e->inline_key, key, (size_t)len);
    e->heap = heap, e->len = len, e->hash = h, e->group = group, e->key = NULL;
    e->older = e->newer = -1;
    st->index[i] = k + 1;
    if (group) {
        st->groups++;
        return k;
    }
    e->older = st->newest;
    if (st->newest >= 0)
        st->entries[st->newest].newer = k;
    else
        st->oldest = k;
    st->newest = k;
    st->count++;
    return k;
}

void seed_table_drop_oldest(SeedTable *st) {
    int found;
    const SeedEntry *old = &st->entries[st->oldest];
    seed_table_drop(st, seed_table_slot(st, seed_bytes(old), old->len, old->hash, &found));
}

int seed_table_add(SeedTable *st, const char *key, Py_ssize_t len, double t, Py_ssize_t n,
                   double now) {
    int dropped = st->count >= st->capacity;
    if (dropped)
        seed_table_drop_oldest(st);
    Py_ssize_t k = seed_table_new_entry(st, key, len, 0);
    if (k < 0)
        return -1;
    SeedEntry *e = &st->entries[k];
    e->t = t, e->now = now, e->n = n;
    return dropped;
}

