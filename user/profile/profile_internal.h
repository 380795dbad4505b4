/* SPDX-License-Identifier: MIT */
/*
 * Layout of struct profile, shared by profile.c (threads and runs),
 * profile_frames.c (frame interning) and profile_stacks.c (prefix tree).
 * Writers never include this: they use the iteration API in profile.h.
 */
#ifndef BPFSPY_PROFILE_INTERNAL_H
#define BPFSPY_PROFILE_INTERNAL_H

#include "profile/profile.h"
#include "util/array.h"
#include "util/id_table.h"
#include "util/string_arena.h"

/* A frame last interned from these string pointers (see frame_table_intern). */
struct frame_memo_slot {
	const char *name, *file;
	int line;
	enum frame_kind kind;
	uint32_t id; /* ID_NONE: empty */
};

struct frame_table {
	struct frame_desc *frames;
	size_t count, cap;
	struct id_table index;
	struct string_arena strings; /* frame names and files: they live as long as the profile */
	struct frame_memo_slot *memo; /* FRAME_MEMO_SLOTS, allocated on first use */
};

/* Native module files by path (profile_modules.c). */
struct module_table {
	struct profile_module *modules; /* path and build_id malloc'd */
	size_t count, cap;
	struct id_table index; /* path -> index into modules */
};

/* One prefix-tree node; its id is the stack id of the path root..this node. */
struct stack_node {
	uint32_t parent; /* ID_NONE for a root frame */
	uint32_t frame;
	uint32_t depth;  /* 1 for a root frame */
};

struct stack_tree {
	struct stack_node *nodes;
	size_t count, cap;
	struct id_map index; /* (parent, frame) -> stack id */
};

/* Consecutive samples of one thread on one stack. */
struct sample_run {
	uint64_t weight;
	uint64_t first_ts_ns; /* lets a late sample be placed among the runs */
	uint64_t end_ns;      /* last sample's time + its duration */
	uint32_t stack_id;
	uint32_t nsamples;
};

struct profile_thread {
	uint32_t pid, tid;
	uint32_t process;  /* index into profile.processes */
	char *name;
	struct sample_run *runs;
	size_t nruns, cap_runs;
	uint64_t total_weight, samples;
	uint64_t first_ts_ns, last_ts_ns;
	/*
	 * The previous sample's frames and the stack id at each depth: the next
	 * sample usually shares a long prefix, which then costs no hash lookups.
	 */
	uint32_t *recent_frames, *recent_stacks;
	size_t recent_depth, recent_cap;
	bool listed; /* has a sample, so it appears in profile.order */
};

struct profile_process {
	uint32_t pid;
	char *comm;
	size_t listed_threads;
	bool listed;
};

struct profile {
	struct profile_meta meta;
	char *command_copy;
	struct frame_table frames;
	struct module_table modules;
	struct stack_tree stacks;
	uint32_t unknown_frame; /* "[unknown]" marker for empty stacks, ID_NONE until needed */

	struct profile_thread *threads;
	size_t nthreads, cap_threads;
	struct id_map thread_index; /* (pid, tid) -> index into threads */

	struct profile_process *processes;
	size_t nprocesses, cap_processes;
	struct id_map process_index; /* pid -> index into processes */

	/* Listed processes in first-sample order, and listed threads grouped by them. */
	uint32_t *process_order;
	size_t nprocess_order, cap_process_order;
	uint32_t *thread_order;
	size_t nthread_order, cap_thread_order;

	uint64_t total_weight, samples;

	struct profile_process_event *events;
	size_t nevents, cap_events;
};

void frame_table_free(struct frame_table *t);
uint32_t frame_table_intern(struct frame_table *t, const struct frame_desc *f);

void module_table_free(struct module_table *t);

void stack_tree_free(struct stack_tree *t);
/* The stack id of child frame under parent (ID_NONE for a root), added if new. */
uint32_t stack_tree_child(struct stack_tree *t, uint32_t parent, uint32_t frame);

#endif
