#include "seq_table.h"

#include <stdlib.h>
#include <string.h>

#include "util/array.h"

void seq_table_init(struct seq_table *t)
{
	memset(t, 0, sizeof(*t));
}

void seq_table_free(struct seq_table *t)
{
	free(t->items);
	free(t->offsets);
	id_table_free(&t->index);
	memset(t, 0, sizeof(*t));
}

struct seq_probe {
	const uint32_t *seq;
	size_t len;
};

static bool same_seq(const void *ctx, uint32_t id, const void *key)
{
	const struct seq_probe *want = key;
	size_t n;
	const uint32_t *have = seq_table_get(ctx, id, &n);

	return n == want->len && (!n || memcmp(have, want->seq, n * sizeof(*have)) == 0);
}

int64_t seq_table_intern(struct seq_table *t, const uint32_t *seq, size_t len, bool *inserted)
{
	struct seq_probe probe = { seq, len };
	uint64_t h = hash_bytes(HASH_SEED, seq, len * sizeof(*seq));
	uint32_t id = id_table_find(&t->index, h, same_seq, t, &probe);

	*inserted = false;
	if (id != ID_NONE)
		return id;
	if (t->count >= UINT32_MAX - 1)
		return -1;
	if (array_reserve((void **)&t->offsets, &t->offsets_cap, t->count + 2, sizeof(*t->offsets)) != 0)
		return -1;
	if (array_reserve((void **)&t->items, &t->items_cap, t->items_len + len, sizeof(*t->items)) != 0)
		return -1;
	if (id_table_insert(&t->index, h, (uint32_t)t->count) != 0)
		return -1;
	if (t->count == 0)
		t->offsets[0] = 0;
	if (len)
		memcpy(t->items + t->items_len, seq, len * sizeof(*seq));
	t->items_len += len;
	t->offsets[t->count + 1] = t->items_len;
	*inserted = true;
	return (int64_t)t->count++;
}
