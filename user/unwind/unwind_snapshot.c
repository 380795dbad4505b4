// SPDX-License-Identifier: MIT
/*
 * Unwinds a copy of a user stack with the per-file CFI tables. All memory the
 * rules reference is read from the copy only, so the walk never touches the
 * target process and stops cleanly where the copy ends.
 */
#include "unwind/unwind.h"

#include <errno.h>
#include <string.h>

#include "util/sorted.h"


struct walker {
	const struct unwind_snapshot_input *in;
	uint64_t ip, sp, bp;
	bool bp_known;
	bool ip_is_return_address; /* look up ip - 1: the call may be the function's last instruction */
};

struct frame_step {
	uint64_t cfa;
	uint64_t return_address;
	uint64_t bp;
	bool bp_known;
};

static bool read_stack(const struct walker *w, uint64_t address, uint64_t *out)
{
	uint64_t start = w->in->regs.sp;

	if (address < start || address - start > w->in->stack_size ||
	    w->in->stack_size - (address - start) < sizeof(*out))
		return false;
	memcpy(out, w->in->stack + (address - start), sizeof(*out));
	return true;
}

static const struct unwind_row *find_row(const struct walker *w, uint64_t lookup_pc)
{
	const struct unwind_mapping *m = w->in->find_mapping(w->in->find_mapping_ctx, lookup_pc);
	const struct unwind_row *row;

	if (!m || !m->table)
		return NULL;
	row = unwind_table_lookup(m->table, lookup_pc - m->bias);
	return row && row->cfa_rule != UNWIND_CFA_NONE ? row : NULL;
}

/* Each step either succeeds (true) or says why the walk must stop. */
static bool compute_cfa(const struct walker *w, const struct unwind_row *row, uint64_t *cfa,
			enum unwind_stop_reason *stop)
{
	uint64_t a = (uint64_t)(int64_t)unwind_row_packed_a(row), b = unwind_row_packed_b(row), word;
	bool uses_bp = row->cfa_rule == UNWIND_CFA_RBP || row->cfa_rule == UNWIND_CFA_DEREF_RBP;

	*stop = UNWIND_STOP_BAD_RULE;
	if (uses_bp && !w->bp_known)
		return false;
	switch (row->cfa_rule) {
	case UNWIND_CFA_RSP:
		*cfa = w->sp + (uint64_t)(int64_t)row->cfa_offset;
		return true;
	case UNWIND_CFA_RBP:
		*cfa = w->bp + (uint64_t)(int64_t)row->cfa_offset;
		return true;
	case UNWIND_CFA_PLT:
		*cfa = w->sp + a + ((w->ip & 15) >= b ? 8 : 0);
		return true;
	case UNWIND_CFA_DEREF_RSP:
	case UNWIND_CFA_DEREF_RBP:
		if (!read_stack(w, (uses_bp ? w->bp : w->sp) + a, &word)) {
			*stop = UNWIND_STOP_LEFT_SNAPSHOT;
			return false;
		}
		*cfa = word + b;
		return true;
	default:
		return false;
	}
}

static bool restore_bp(const struct walker *w, const struct unwind_row *row, struct frame_step *s,
		       enum unwind_stop_reason *stop)
{
	uint64_t base, saved_bp;

	s->bp = w->bp;
	s->bp_known = w->bp_known;
	switch (row->rbp_rule) {
	case UNWIND_RBP_SAME:
		return true;
	case UNWIND_RBP_AT_CFA:
		base = s->cfa;
		break;
	case UNWIND_RBP_AT_RBP:
		if (!w->bp_known) {
			s->bp_known = false;
			return true;
		}
		base = w->bp;
		break;
	default:
		s->bp_known = false; /* the caller may not need it; rules that do will stop */
		return true;
	}
	/* In an epilogue after `pop %rbp` the CFI still names the slot, now below sp: rbp already holds
	 * the caller's value. */
	if (row->rbp_rule == UNWIND_RBP_AT_CFA && base + (uint64_t)(int64_t)row->rbp_offset < w->sp)
		return true;
	if (!read_stack(w, base + (uint64_t)(int64_t)row->rbp_offset, &saved_bp)) {
		*stop = UNWIND_STOP_LEFT_SNAPSHOT;
		return false;
	}
	s->bp = saved_bp;
	s->bp_known = true;
	return true;
}

static bool step_cfi(const struct walker *w, const struct unwind_row *row, struct frame_step *s,
		     enum unwind_stop_reason *stop)
{
	if (!compute_cfa(w, row, &s->cfa, stop))
		return false;
	/* The caller's frame lies above ours; anything else is a loop or garbage. */
	if (s->cfa <= w->sp) {
		*stop = UNWIND_STOP_BAD_RULE;
		return false;
	}
	if (!read_stack(w, s->cfa - 8, &s->return_address)) {
		*stop = UNWIND_STOP_LEFT_SNAPSHOT;
		return false;
	}
	return restore_bp(w, row, s, stop);
}

/* Only trusted when bp points into the copy above sp, so a stray rbp cannot walk off anywhere. */
static bool step_frame_pointer(const struct walker *w, struct frame_step *s)
{
	uint64_t saved_bp;

	if (!w->bp_known || w->bp < w->sp || (w->bp & 7) || !read_stack(w, w->bp, &saved_bp) ||
	    !read_stack(w, w->bp + 8, &s->return_address))
		return false;
	s->cfa = w->bp + 16;
	s->bp = saved_bp;
	s->bp_known = true;
	return true;
}

/*
 * The interrupted frame, in code without CFI: taken as at a function's entry
 * (return address on top of the stack) when that word returns into code we
 * have CFI for. The case it is for: a module's _init (crti.o has no CFI),
 * sampled in the page fault of its first instruction while ld.so loads it.
 */
static bool step_leaf_at_entry(const struct walker *w, struct frame_step *s)
{
	uint64_t ra;

	if (w->ip_is_return_address || !read_stack(w, w->sp, &ra) || ra == 0 || !find_row(w, ra - 1))
		return false;
	s->cfa = w->sp + 8;
	s->return_address = ra;
	s->bp = w->bp;
	s->bp_known = w->bp_known;
	return true;
}

static bool step_signal_frame(struct walker *w, enum unwind_stop_reason *stop)
{
	uint64_t gregs = w->sp + UNWIND_SIGFRAME_GREGS_OFFSET, ip, sp, bp;

	if (!read_stack(w, gregs + 8 * UNWIND_GREG_RIP, &ip) || !read_stack(w, gregs + 8 * UNWIND_GREG_RSP, &sp) ||
	    !read_stack(w, gregs + 8 * UNWIND_GREG_RBP, &bp)) {
		*stop = UNWIND_STOP_LEFT_SNAPSHOT;
		return false;
	}
	/* The interrupted code ran below the signal frame on the same stack; an altstack is not in
	 * the copy, and anything else is garbage. */
	if (sp <= w->sp) {
		*stop = UNWIND_STOP_BAD_RULE;
		return false;
	}
	w->ip = ip;
	w->sp = sp;
	w->bp = bp;
	w->bp_known = true;
	w->ip_is_return_address = false; /* interrupted, not called: ip is the exact instruction */
	return true;
}

/* Moves w to the caller; false with *stop set when the walk ends (normally or not). */
static bool step(struct walker *w, enum unwind_stop_reason *stop, size_t *fp_steps)
{
	uint64_t lookup_pc = w->ip_is_return_address ? w->ip - 1 : w->ip;
	const struct unwind_row *row = find_row(w, lookup_pc);
	struct frame_step s;

	if (row && row->cfa_rule == UNWIND_CFA_END) {
		*stop = UNWIND_STOP_END_OF_STACK;
		return false;
	}
	if (row && row->cfa_rule == UNWIND_CFA_SIGNAL)
		return step_signal_frame(w, stop);
	if (row) {
		if (!step_cfi(w, row, &s, stop))
			return false;
	} else if (step_frame_pointer(w, &s)) {
		(*fp_steps)++;
	} else if (!step_leaf_at_entry(w, &s)) {
		*stop = UNWIND_STOP_NO_TABLE;
		return false;
	}
	if (s.return_address == 0) {
		*stop = UNWIND_STOP_END_OF_STACK; /* some entry points push a zero return address instead of CFI */
		return false;
	}
	w->ip = s.return_address;
	w->sp = s.cfa;
	w->bp = s.bp;
	w->bp_known = s.bp_known;
	w->ip_is_return_address = true;
	return true;
}

int unwind_snapshot(const struct unwind_snapshot_input *input, uint64_t *frames, size_t max_frames,
		    struct unwind_result *result)
{
	struct walker w;

	if (!input || !frames || !result || !input->find_mapping || (!input->stack && input->stack_size))
		return -EINVAL;
	memset(result, 0, sizeof(*result));
	if (max_frames == 0) {
		result->stop_reason = UNWIND_STOP_DEPTH;
		return 0;
	}
	w = (struct walker){
		.in = input, .ip = input->regs.ip, .sp = input->regs.sp, .bp = input->regs.bp, .bp_known = true,
	};
	frames[result->frame_count++] = w.ip;
	for (;;) {
		if (!step(&w, &result->stop_reason, &result->frame_pointer_steps))
			return 0;
		if (result->frame_count == max_frames) {
			result->stop_reason = UNWIND_STOP_DEPTH;
			return 0;
		}
		frames[result->frame_count++] = w.ip;
	}
}

const struct unwind_mapping *unwind_address_space_find(void *address_space, uint64_t address)
{
	const struct unwind_address_space *as = address_space;
	/* the first mapping ending after address */
	size_t lo = SORTED_COUNT_AT_OR_BELOW(as->mappings, as->count, end, address);

	if (lo < as->count && as->mappings[lo].start <= address)
		return &as->mappings[lo];
	return NULL;
}

const char *unwind_stop_reason_name(enum unwind_stop_reason reason)
{
	switch (reason) {
	case UNWIND_STOP_END_OF_STACK:
		return "end of stack";
	case UNWIND_STOP_NO_TABLE:
		return "no table";
	case UNWIND_STOP_LEFT_SNAPSHOT:
		return "left snapshot";
	case UNWIND_STOP_BAD_RULE:
		return "bad rule";
	case UNWIND_STOP_DEPTH:
		return "depth";
	case UNWIND_STOP_REASONS:
		break;
	}
	return "unknown";
}
