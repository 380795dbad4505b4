#include "seq_table.h"

#include <stdlib.h>
#include <string.h>

void seq_table_init(struct seq_table *t)
{
	memset(t, 0, sizeof(*t));
}

void seq_table_free(struct seq_table *t)
{
	free(t->items);
	free(t->offsets);
	free(t->hashes);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

uint64_t seq_hash(const uint32_t *seq, size_t len)
{
	/* FNV-1a over the words, then a final avalanche (splitmix64). */
	uint64_t h = 0xcbf29ce484222325ULL ^ len;

	for (size_t i = 0; i < len; i++) {
		h ^= seq[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

uint32_t *slots_rebuild(const uint64_t *hashes, size_t count, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return NULL;
	for (size_t id = 0; id < count; id++) {
		size_t s = hashes[id] & (nslots - 1);

		while (slots[s])
			s = (s + 1) & (nslots - 1);
		slots[s] = (uint32_t)(id + 1);
	}
	return slots;
}

static bool grow_slots(struct seq_table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *slots = slots_rebuild(t->hashes, t->count, n);

	if (!slots)
		return false;
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return true;
}

static bool reserve(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n;
	void *q;

	if (need <= *cap)
		return true;
	n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

int64_t seq_table_intern(struct seq_table *t, const uint32_t *seq, size_t len, bool *inserted)
{
	uint64_t h = seq_hash(seq, len);
	size_t s;

	*inserted = false;
	if (t->count >= UINT32_MAX - 1)
		return -1;
	if ((t->count + 1) * 2 > t->nslots && !grow_slots(t))
		return -1;
	for (s = h & (t->nslots - 1); t->slots[s]; s = (s + 1) & (t->nslots - 1)) {
		size_t id = t->slots[s] - 1, n;
		const uint32_t *other;

		if (t->hashes[id] != h)
			continue;
		other = seq_table_get(t, id, &n);
		if (n == len && (!len || memcmp(other, seq, len * sizeof(*seq)) == 0))
			return (int64_t)id;
	}
	if (!reserve((void **)&t->hashes, &t->hashes_cap, t->count + 1, sizeof(*t->hashes)) ||
	    !reserve((void **)&t->offsets, &t->offsets_cap, t->count + 2, sizeof(*t->offsets)))
		return -1;
	if (!reserve((void **)&t->items, &t->items_cap, t->items_len + len, sizeof(*t->items)))
		return -1;
	if (t->count == 0)
		t->offsets[0] = 0;
	if (len)
		memcpy(t->items + t->items_len, seq, len * sizeof(*seq));
	t->items_len += len;
	t->hashes[t->count] = h;
	t->offsets[t->count + 1] = t->items_len;
	t->slots[s] = (uint32_t)(t->count + 1);
	*inserted = true;
	return (int64_t)t->count++;
}
