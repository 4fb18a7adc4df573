/* Hierarchical timer wheel with intrusive nodes: O(1) insert and cancel, no allocation.
 *
 * Time is cut into ticks of tick_ns nanoseconds counted from the origin given at init. A node
 * due at due_ns belongs to tick ceil((due_ns - origin) / tick_ns), and advance(now) hands
 * out every node whose tick is <= floor((now - origin) / tick_ns): never early, at most one
 * tick late. Nodes come out in tick order; nodes of one tick in the order they were inserted.
 *
 * Layout: LLMSIM_WHEEL_LEVELS levels of 64 slots; 11 levels cover all 64-bit tick numbers,
 * so no entry is ever too far in the future. A node due at tick d sits at the lowest level L
 * where d and the wheel's current tick agree on every bit above 6 * (L + 1), in slot
 * (d >> 6L) & 63. So a slot never holds nodes a whole revolution apart, and as soon as the
 * current tick enters an upper slot, that slot is redistributed (cascaded) one or more levels
 * down. A 64-bit occupancy mask per level finds the next busy slot with one ctz, so advance
 * skips idle time in O(levels) and next_due_ns is O(levels).
 *
 * Nodes sit on circular doubly linked lists whose heads are in the wheel; the caller embeds a
 * llmsim_wheel_node_t in its own structure (one per stream) and recovers it from the node.
 */
#ifndef LLMSIM_WHEEL_H
#define LLMSIM_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#define LLMSIM_WHEEL_BITS 6
#define LLMSIM_WHEEL_SLOTS 64
#define LLMSIM_WHEEL_LEVELS 11

/* Where a node is: a slot (level * 64 + index), overdue, handed out, or nowhere. */
#define LLMSIM_WHEEL_IDLE 0xffffu
#define LLMSIM_WHEEL_OVERDUE 0xfffeu
#define LLMSIM_WHEEL_EXPIRED 0xfffdu

typedef struct llmsim_wheel_node {
    struct llmsim_wheel_node *next, *prev;
    int64_t due_ns;
    uint64_t tick;
    uint16_t where;
} llmsim_wheel_node_t;

/* A list of nodes: advance appends due nodes to one, the caller pops them. */
typedef struct {
    llmsim_wheel_node_t head;
} llmsim_wheel_list_t;

typedef struct {
    int64_t origin_ns;
    int64_t tick_ns;
    int64_t last_now_ns; /* the latest time given to init or advance */
    uint64_t cur;        /* every tick < cur has been handed out */
    size_t count;        /* nodes in slots or overdue */
    uint64_t occupied[LLMSIM_WHEEL_LEVELS];
    llmsim_wheel_node_t overdue; /* inserted with a tick already passed */
    llmsim_wheel_node_t slots[LLMSIM_WHEEL_LEVELS * LLMSIM_WHEEL_SLOTS];
} llmsim_wheel_t;

static inline void llmsim_wheel_head_init(llmsim_wheel_node_t *h)
{
    h->next = h->prev = h;
    h->where = LLMSIM_WHEEL_IDLE;
}

static inline int llmsim_wheel_head_empty(const llmsim_wheel_node_t *h)
{
    return h->next == h;
}

static inline void llmsim_wheel_link_tail(llmsim_wheel_node_t *h, llmsim_wheel_node_t *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static inline void llmsim_wheel_unlink(llmsim_wheel_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

static inline void llmsim_wheel_node_init(llmsim_wheel_node_t *n)
{
    n->next = n->prev = n;
    n->due_ns = 0;
    n->tick = 0;
    n->where = LLMSIM_WHEEL_IDLE;
}

/* 1 while the node waits in the wheel or in a list handed out by advance. */
static inline int llmsim_wheel_node_armed(const llmsim_wheel_node_t *n)
{
    return n->where != LLMSIM_WHEEL_IDLE;
}

static inline void llmsim_wheel_list_init(llmsim_wheel_list_t *l)
{
    llmsim_wheel_head_init(&l->head);
}

/* The first node of the list, unlinked and idle; NULL when the list is empty. */
static inline llmsim_wheel_node_t *llmsim_wheel_list_pop(llmsim_wheel_list_t *l)
{
    llmsim_wheel_node_t *n = l->head.next;
    if (n == &l->head)
        return NULL;
    llmsim_wheel_unlink(n);
    n->where = LLMSIM_WHEEL_IDLE;
    return n;
}

/* tick_ns > 0; now_ns is the origin: the wheel counts ticks from it. */
static inline void llmsim_wheel_init(llmsim_wheel_t *w, int64_t tick_ns, int64_t now_ns)
{
    w->origin_ns = now_ns;
    w->tick_ns = tick_ns > 0 ? tick_ns : 1;
    w->last_now_ns = now_ns;
    w->cur = 0;
    w->count = 0;
    for (int l = 0; l < LLMSIM_WHEEL_LEVELS; l++)
        w->occupied[l] = 0;
    llmsim_wheel_head_init(&w->overdue);
    for (int s = 0; s < LLMSIM_WHEEL_LEVELS * LLMSIM_WHEEL_SLOTS; s++)
        llmsim_wheel_head_init(&w->slots[s]);
}

/* The tick of a time: floor when `up` is 0, ceil otherwise; times before the origin map to
 * tick 0 (rounded up) or to "before everything" (UINT64_MAX, rounded down). */
static inline uint64_t llmsim_wheel_tick_of(const llmsim_wheel_t *w, int64_t t, int up)
{
    if (t < w->origin_ns)
        return up ? 0 : UINT64_MAX;
    uint64_t delta = (uint64_t)t - (uint64_t)w->origin_ns;
    uint64_t q = delta / (uint64_t)w->tick_ns;
    if (up && q * (uint64_t)w->tick_ns != delta)
        q++;
    return q;
}

/* Put a node at its level and slot relative to the current tick (tick >= cur). */
static inline void llmsim_wheel_place(llmsim_wheel_t *w, llmsim_wheel_node_t *n)
{
    uint64_t diff = n->tick ^ w->cur;
    int level = 0;
    while (level < LLMSIM_WHEEL_LEVELS - 1 && (diff >> (LLMSIM_WHEEL_BITS * (level + 1))))
        level++;
    unsigned index = (unsigned)(n->tick >> (LLMSIM_WHEEL_BITS * level)) & (LLMSIM_WHEEL_SLOTS - 1);
    unsigned slot = (unsigned)level * LLMSIM_WHEEL_SLOTS + index;
    llmsim_wheel_link_tail(&w->slots[slot], n);
    n->where = (uint16_t)slot;
    w->occupied[level] |= (uint64_t)1 << index;
}

/* Arm an idle node to fire at due_ns. Returns 0, or -1 if the node is already armed. */
static inline int llmsim_wheel_insert(llmsim_wheel_t *w, llmsim_wheel_node_t *n, int64_t due_ns)
{
    if (llmsim_wheel_node_armed(n))
        return -1;
    n->due_ns = due_ns;
    n->tick = llmsim_wheel_tick_of(w, due_ns, 1);
    if (n->tick < w->cur) {
        llmsim_wheel_link_tail(&w->overdue, n);
        n->where = LLMSIM_WHEEL_OVERDUE;
    } else {
        llmsim_wheel_place(w, n);
    }
    w->count++;
    return 0;
}

/* Disarm a node wherever it is (wheel or handed-out list); a no-op for an idle node. */
static inline void llmsim_wheel_cancel(llmsim_wheel_t *w, llmsim_wheel_node_t *n)
{
    uint16_t where = n->where;
    if (where == LLMSIM_WHEEL_IDLE)
        return;
    llmsim_wheel_node_t *head = where < LLMSIM_WHEEL_LEVELS * LLMSIM_WHEEL_SLOTS
                                    ? &w->slots[where] : NULL;
    llmsim_wheel_unlink(n);
    n->where = LLMSIM_WHEEL_IDLE;
    if (where != LLMSIM_WHEEL_EXPIRED)
        w->count--;
    if (head && llmsim_wheel_head_empty(head))
        w->occupied[where / LLMSIM_WHEEL_SLOTS] &= ~((uint64_t)1 << (where % LLMSIM_WHEEL_SLOTS));
}

/* Keep the invariant that, above level 0, the slot holding the current tick is empty: each
 * such slot is redistributed below (highest level first), as its nodes are now close. */
static inline void llmsim_wheel_settle(llmsim_wheel_t *w)
{
    for (int l = LLMSIM_WHEEL_LEVELS - 1; l > 0; l--) {
        unsigned index = (unsigned)(w->cur >> (LLMSIM_WHEEL_BITS * l)) & (LLMSIM_WHEEL_SLOTS - 1);
        uint64_t bit = (uint64_t)1 << index;
        if (!(w->occupied[l] & bit))
            continue;
        llmsim_wheel_node_t *slot = &w->slots[l * LLMSIM_WHEEL_SLOTS + index], *n;
        w->occupied[l] &= ~bit;
        while ((n = slot->next) != slot) {
            llmsim_wheel_unlink(n);
            llmsim_wheel_place(w, n);
        }
    }
}

/* The lowest level with a busy slot at or after the current position, its slot index and
 * the first tick of that slot; -1 when the wheel (overdue list aside) is empty. With the
 * settle invariant, lower levels always hold earlier ticks than higher ones, so this is the
 * earliest busy slot. */
static inline int llmsim_wheel_next_slot(const llmsim_wheel_t *w, unsigned *index,
                                         uint64_t *start)
{
    for (int l = 0; l < LLMSIM_WHEEL_LEVELS; l++) {
        unsigned shift = (unsigned)(LLMSIM_WHEEL_BITS * l);
        unsigned pos = (unsigned)(w->cur >> shift) & (LLMSIM_WHEEL_SLOTS - 1);
        uint64_t mask = w->occupied[l] & (~(uint64_t)0 << pos);
        if (mask) {
            unsigned s = (unsigned)__builtin_ctzll(mask);
            uint64_t block_bits = shift + LLMSIM_WHEEL_BITS;
            uint64_t base = block_bits >= 64 ? 0 : (w->cur >> block_bits) << block_bits;
            *index = s;
            *start = base | ((uint64_t)s << shift);
            return l;
        }
    }
    return -1;
}

/* Move every node due at or before now_ns to the tail of `out` (marked handed out) and
 * return how many. Nodes in `out` may be cancelled or re-armed after being popped. */
static inline size_t llmsim_wheel_advance(llmsim_wheel_t *w, int64_t now_ns,
                                          llmsim_wheel_list_t *out)
{
    size_t moved = 0;
    llmsim_wheel_node_t *h = &out->head, *n;
    if (now_ns > w->last_now_ns)
        w->last_now_ns = now_ns;
    while ((n = w->overdue.next) != &w->overdue) {
        llmsim_wheel_unlink(n);
        llmsim_wheel_link_tail(h, n);
        n->where = LLMSIM_WHEEL_EXPIRED;
        moved++;
    }
    uint64_t target = llmsim_wheel_tick_of(w, now_ns, 0);
    while (target != UINT64_MAX) {
        unsigned index;
        uint64_t start;
        int level = llmsim_wheel_next_slot(w, &index, &start);
        if (level < 0 || start > target) {
            if (w->cur <= target) {
                w->cur = target + 1;
                llmsim_wheel_settle(w);
            }
            break;
        }
        if (level == 0) {
            llmsim_wheel_node_t *slot = &w->slots[index];
            w->occupied[0] &= ~((uint64_t)1 << index);
            while ((n = slot->next) != slot) {
                llmsim_wheel_unlink(n);
                llmsim_wheel_link_tail(h, n);
                n->where = LLMSIM_WHEEL_EXPIRED;
                moved++;
            }
            w->cur = start + 1;
        } else {
            w->cur = start; /* settle cascades this slot */
        }
        llmsim_wheel_settle(w);
    }
    w->count -= moved;
    return moved;
}

/* When a tick starts: the earliest time advance hands out that tick's nodes (INT64_MAX
 * when past the clock's range). */
static inline int64_t llmsim_wheel_tick_start_ns(const llmsim_wheel_t *w, uint64_t tick)
{
    uint64_t limit = ((uint64_t)INT64_MAX - (uint64_t)w->origin_ns) / (uint64_t)w->tick_ns;
    if (tick > limit)
        return INT64_MAX;
    return (int64_t)((uint64_t)w->origin_ns + tick * (uint64_t)w->tick_ns);
}

/* When to wake for an armed node: the start of its tick, a time already past when it is
 * overdue. */
static inline int64_t llmsim_wheel_node_wake_ns(const llmsim_wheel_t *w,
                                                const llmsim_wheel_node_t *n)
{
    return llmsim_wheel_tick_start_ns(w, n->tick);
}

/* A time to arm the wake-up timer for: at or before the earliest due node (exact when that
 * node is in level 0, the tick's start otherwise); the last time given to the wheel when a
 * node is overdue; INT64_MAX when nothing is armed. */
static inline int64_t llmsim_wheel_next_due_ns(const llmsim_wheel_t *w)
{
    if (!llmsim_wheel_head_empty(&w->overdue))
        return w->last_now_ns;
    unsigned index;
    uint64_t start;
    if (llmsim_wheel_next_slot(w, &index, &start) < 0)
        return INT64_MAX;
    return llmsim_wheel_tick_start_ns(w, start);
}

static inline size_t llmsim_wheel_count(const llmsim_wheel_t *w)
{
    return w->count;
}

#endif /* LLMSIM_WHEEL_H */
