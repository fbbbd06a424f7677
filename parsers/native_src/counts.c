/* The per-chunk counts of what a Selector selected (see select.h); count_set.c hands them
 * over to the alert engine. */
#include "select.h"

static int grow(void **data, Py_ssize_t *size, Py_ssize_t need, size_t unit) {
    if (need <= *size)
        return 0;
    Py_ssize_t size2 = *size ? *size : 64;
    while (size2 < need)
        size2 *= 2;
    void *more = PyMem_RawRealloc(*data, (size_t)size2 * unit); /* the GIL may be released */
    if (more == NULL)
        return -1; /* no exception set: see Gil */
    *data = more, *size = size2;
    return 0;
}

static inline uint64_t hash_of(const Count *it, int head) {
    return head ? it->head_hash : it->hash;
}

/* Room in a table holding `held` counts (hashed by key or by head) for one more. */
static int table_room(Table *t, const Count *items, int head, Py_ssize_t held) {
    if (2 * (held + 1) <= t->cap)
        return 0;
    Py_ssize_t cap = t->cap ? 2 * t->cap : 256;
    Py_ssize_t *slots = PyMem_RawCalloc((size_t)cap, sizeof(Py_ssize_t));
    if (slots == NULL)
        return -1;
    for (Py_ssize_t j = 0; j < t->cap; j++) {
        Py_ssize_t item = t->slots[j];
        if (!item)
            continue;
        Py_ssize_t i = (Py_ssize_t)(hash_of(&items[item - 1], head) & (uint64_t)(cap - 1));
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = item;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots, t->cap = cap;
    return 0;
}

/* Appends a group-by value or the timestamp text to a count's key: its length, its bytes
   (an integer's without leading zeros: its text as a label, `str(int(...))`). */
static Py_ssize_t put_part(char *k, const uint8_t *v, Py_ssize_t n, int is_int) {
    while (is_int && n > 1 && v[0] == '0')
        v++, n--;
    uint32_t len = (uint32_t)n;
    memcpy(k, &len, 4);
    memcpy(k + 4, v, (size_t)n);
    return 4 + n;
}

static inline Py_ssize_t span_len(const Py_ssize_t *spans, int g) {
    return spans[2 * g + 1] - spans[2 * g];
}

int counts_add(Counts *c, const Selector *sel, int cond, const uint8_t *s,
               const Py_ssize_t *spans, Py_ssize_t from, Py_ssize_t to) {
    const CountKey *key = &sel->keys[cond];
    int ts = sel->ts_group;
    Py_ssize_t need = 4 + (ts ? 4 + span_len(spans, ts) : 0);
    for (Py_ssize_t p = 0; p < key->nparts; p++)
        need += 4 + span_len(spans, key->parts[p].group);
    if (grow((void **)&c->arena, &c->arena_size, c->arena_used + need, 1) < 0 ||
        grow((void **)&c->hits, &c->hits_room, c->nhits + 1, sizeof(Hit)) < 0 ||
        table_room(&c->table, c->items, 0, c->n) < 0)
        return -1;
    char *k = c->arena + c->arena_used;
    Py_ssize_t len = 4;
    memcpy(k, &cond, 4);
    for (Py_ssize_t p = 0; p < key->nparts; p++) {
        int g = key->parts[p].group;
        len += put_part(k + len, s + spans[2 * g], span_len(spans, g), key->parts[p].is_int);
    }
    Py_ssize_t head = len;
    if (ts)
        len += put_part(k + len, s + spans[2 * ts], span_len(spans, ts), 0);
    Py_ssize_t hit = c->nhits++;
    c->hits[hit] = (Hit){from, to, -1};
    uint64_t h = hash_bytes((const uint8_t *)k, len);
    Py_ssize_t mask = c->table.cap - 1, i = (Py_ssize_t)(h & (uint64_t)mask);
    for (; c->table.slots[i]; i = (i + 1) & mask) {
        Count *it = &c->items[c->table.slots[i] - 1];
        if (it->hash == h && it->key_len == len &&
            memcmp(c->arena + it->key_at, k, (size_t)len) == 0) {
            it->count++;
            c->hits[it->last].next = hit;
            it->last = hit;
            return 0;
        }
    }
    if (grow((void **)&c->items, &c->room, c->n + 1, sizeof(Count)) < 0)
        return -1;
    c->table.slots[i] = c->n + 1;
    c->arena_used += len;
    /* A new count: of the group of an earlier count with the same head, or a new group. */
    Count *it = &c->items[c->n++];
    *it = (Count){h, hash_bytes((const uint8_t *)k, head), k - c->arena, len, head, cond, 1,
                  c->n - 1, hit, hit};
    if (table_room(&c->groups, c->items, 1, c->ngroups) < 0)
        return -1;
    mask = c->groups.cap - 1;
    for (i = (Py_ssize_t)(it->head_hash & (uint64_t)mask); c->groups.slots[i];
         i = (i + 1) & mask) {
        const Count *other = &c->items[c->groups.slots[i] - 1];
        if (other->head_hash == it->head_hash && other->head_len == head &&
            memcmp(c->arena + other->key_at, k, (size_t)head) == 0) {
            it->group = other->group;
            return 0;
        }
    }
    c->groups.slots[i] = c->n;
    c->ngroups++;
    return 0;
}

void counts_free(Counts *c) {
    PyMem_RawFree(c->items);
    PyMem_RawFree(c->table.slots);
    PyMem_RawFree(c->groups.slots);
    PyMem_RawFree(c->hits);
    PyMem_RawFree(c->arena);
}
