// SPDX-License-Identifier: MIT
/* Stack interning as a prefix tree: (parent stack id, frame id) -> stack id. */
#include "profile/profile_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t stack_key(uint32_t parent, uint32_t frame)
{
	return ((uint64_t)parent << 32) | frame;
}

void stack_tree_free(struct stack_tree *t)
{
	free(t->nodes);
	id_map_free(&t->index);
	memset(t, 0, sizeof(*t));
}

uint32_t stack_tree_child(struct stack_tree *t, uint32_t parent, uint32_t frame)
{
	uint64_t key = stack_key(parent, frame);
	uint32_t id = id_map_get(&t->index, key);

	if (id != ID_NONE)
		return id;
	if (t->count >= ID_NONE - 1 ||
	    array_reserve((void **)&t->nodes, &t->cap, t->count + 1, sizeof(*t->nodes)) < 0)
		return ID_NONE;
	id = (uint32_t)t->count;
	if (id_map_put(&t->index, key, id) < 0)
		return ID_NONE;
	t->nodes[id] = (struct stack_node){
		.parent = parent,
		.frame = frame,
		.depth = parent == ID_NONE ? 1 : t->nodes[parent].depth + 1,
	};
	t->count++;
	return id;
}

size_t profile_stack_count(const struct profile *p)
{
	return p->stacks.count;
}

size_t profile_stack_depth(const struct profile *p, uint32_t stack_id)
{
	if (stack_id >= p->stacks.count)
		return 0;
	return p->stacks.nodes[stack_id].depth;
}

long profile_stack_load(const struct profile *p, uint32_t stack_id, uint32_t **buf, size_t *cap)
{
	size_t depth = profile_stack_depth(p, stack_id);

	if (depth > *cap) {
		uint32_t *grown = reallocarray(*buf, depth, sizeof(*grown));

		if (!grown)
			return -1;
		*buf = grown;
		*cap = depth;
	}
	profile_stack_frames(p, stack_id, *buf, depth);
	return (long)depth;
}

size_t profile_stack_frames(const struct profile *p, uint32_t stack_id, uint32_t *out, size_t cap)
{
	size_t depth = profile_stack_depth(p, stack_id);

	/* the tree links leaf to root; fill from the leaf end so out[] is root first */
	for (size_t pos = depth; pos > 0 && stack_id != ID_NONE; pos--) {
		const struct stack_node *n = &p->stacks.nodes[stack_id];

		if (pos - 1 < cap)
			out[pos - 1] = n->frame;
		stack_id = n->parent;
	}
	return depth;
}

uint32_t profile_stack_parent(const struct profile *p, uint32_t stack_id)
{
	if (stack_id >= p->stacks.count)
		return PROFILE_NO_STACK;
	return p->stacks.nodes[stack_id].parent;
}

uint32_t profile_stack_leaf(const struct profile *p, uint32_t stack_id)
{
	if (stack_id >= p->stacks.count)
		return PROFILE_NO_STACK;
	return p->stacks.nodes[stack_id].frame;
}
