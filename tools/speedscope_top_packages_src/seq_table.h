/* Interning of uint32 sequences (stacks of frame indices, stacks of line
 * ids). Each distinct sequence gets a dense id in first-insertion order, which
 * is what lets the analysis replay "first seen" semantics over distinct stacks
 * instead of over every sample. */
#ifndef SPEEDSCOPE_SEQ_TABLE_H
#define SPEEDSCOPE_SEQ_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/id_table.h"

struct seq_table {
	uint32_t *items;      /* all sequences back to back */
	size_t items_len, items_cap;
	size_t *offsets;      /* offsets[id] .. offsets[id + 1] */
	size_t count, offsets_cap;
	struct id_table index; /* sequence -> id */
};

void seq_table_init(struct seq_table *t);
void seq_table_free(struct seq_table *t);

/* Returns the id of seq (inserting it if new) or -1 when out of memory. */
int64_t seq_table_intern(struct seq_table *t, const uint32_t *seq, size_t len, bool *inserted);

static inline const uint32_t *seq_table_get(const struct seq_table *t, size_t id, size_t *len)
{
	*len = t->offsets[id + 1] - t->offsets[id];
	return t->items ? t->items + t->offsets[id] : NULL;
}

#endif
