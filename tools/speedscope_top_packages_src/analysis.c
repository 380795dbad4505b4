#include "analysis.h"

#include <stdlib.h>
#include <string.h>

#include "seq_table.h"
#include "util/array.h"
#include "util/id_table.h"

struct package_work {
	double *file_counts;  /* per file id */
	uint32_t *file_order; /* per file id: first-seen rank + 1, 0 = unseen */
	uint32_t next_order;
	struct id_map key_entries; /* key id -> its entry in examples */
	size_t entries_cap;
	size_t last_stack;    /* stamp: stack id + 1 of the last match */
};

bool analysis_frame_passes_filter(const struct ss_frame *frame, const char *name_filter)
{
	if (!name_filter || !*name_filter)
		return true;
	return strcmp(frame->name, name_filter) == 0 || (*frame->file && strstr(frame->file, name_filter));
}

struct run_state {
	const struct speedscope *ss;
	const struct analysis_options *opts;
	struct analysis *out;
	struct package_work *work;
	bool *frame_kept;       /* --name-filter, per frame */
	bool *line_is_uniq;     /* --filter-uniq, per line id */
	struct seq_table keys;  /* example keys: sequences of line ids */
	char *joined;
	size_t joined_cap;
	uint32_t *scratch, *scratch2;
	size_t scratch_cap;
	size_t *matches;
};

static bool append_joined(struct run_state *rs, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (!n)
		return true;
	if (*len + n + 2 > rs->joined_cap) {
		size_t cap = rs->joined_cap ? rs->joined_cap : 4096;

		while (*len + n + 2 > cap)
			cap *= 2;
		char *j = realloc(rs->joined, cap);

		if (!j)
			return false;
		rs->joined = j;
		rs->joined_cap = cap;
	}
	if (*len)
		rs->joined[(*len)++] = ' ';
	memcpy(rs->joined + *len, s, n);
	*len += n;
	rs->joined[*len] = '\0';
	return true;
}

/* Fills rs->matches with the distinct packages this stack counts for.
 * Substring mode reproduces the reference: names then files, non-empty
 * ones joined by spaces, then a case-sensitive substring test. */
static bool find_matches(struct run_state *rs, size_t sid, const uint32_t *seq, size_t len, size_t *nmatches)
{
	const struct speedscope *ss = rs->ss;
	struct analysis *a = rs->out;

	*nmatches = 0;
	if (rs->opts->file_package) {
		for (size_t i = 0; i < len; i++) {
			uint32_t fid = ss->frames[seq[i]].file_id;
			uint32_t p = fid == SS_NO_FILE ? UINT32_MAX : rs->opts->file_package[fid];

			if (p < a->npackages && rs->work[p].last_stack != sid + 1) {
				rs->work[p].last_stack = sid + 1;
				rs->matches[(*nmatches)++] = p;
			}
		}
		return true;
	}
	size_t jlen = 0;

	if (!rs->joined) {
		rs->joined = malloc(4096);
		if (!rs->joined)
			return false;
		rs->joined_cap = 4096;
	}
	rs->joined[0] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!append_joined(rs, &jlen, ss->frames[seq[i]].name))
			return false;
	for (size_t i = 0; i < len; i++)
		if (!append_joined(rs, &jlen, ss->frames[seq[i]].file))
			return false;
	for (size_t p = 0; p < a->npackages; p++) {
		const char *name = a->packages[p].name;

		if (memmem(rs->joined, jlen, name, strlen(name)))
			rs->matches[(*nmatches)++] = p;
	}
	return true;
}

/* The example key of a stack: its kept lines, or with --filter-uniq only the
 * kept lines containing that string (all kept lines when none do).
 * Returns -1 when no line is kept, -2 on OOM. */
static int64_t stack_key(struct run_state *rs, const uint32_t *seq, size_t len)
{
	size_t nkept = 0, nuniq = 0;
	bool inserted;

	if (len > rs->scratch_cap) {
		uint32_t *a = realloc(rs->scratch, len * sizeof(*a));

		if (!a)
			return -2;
		rs->scratch = a;
		uint32_t *b = realloc(rs->scratch2, len * sizeof(*b));

		if (!b)
			return -2;
		rs->scratch2 = b;
		rs->scratch_cap = len;
	}
	for (size_t i = 0; i < len; i++) {
		if (!rs->frame_kept[seq[i]])
			continue;
		uint32_t line = rs->ss->frames[seq[i]].line_id;

		rs->scratch[nkept++] = line;
		if (rs->line_is_uniq && rs->line_is_uniq[line])
			rs->scratch2[nuniq++] = line;
	}
	if (!nkept)
		return -1;
	int64_t id = nuniq ? seq_table_intern(&rs->keys, rs->scratch2, nuniq, &inserted)
			   : seq_table_intern(&rs->keys, rs->scratch, nkept, &inserted);

	return id < 0 ? -2 : id;
}

static bool count_example(struct run_state *rs, size_t p, uint32_t key, size_t sid, double value)
{
	struct package_stats *ps = &rs->out->packages[p];
	struct package_work *w = &rs->work[p];
	uint32_t entry = id_map_get(&w->key_entries, key);

	ps->example_total += value;
	if (entry != ID_NONE) {
		ps->examples[entry].count += value;
		return true;
	}
	/* Without --most-frequent only the first N keys can ever be shown, so
	 * later keys need no bookkeeping. */
	if (!rs->opts->most_frequent && (long)ps->nexamples >= rs->opts->max_examples)
		return true;
	if (array_reserve((void **)&ps->examples, &w->entries_cap, ps->nexamples + 1, sizeof(*ps->examples)) != 0)
		return false;
	ps->examples[ps->nexamples] = (struct stack_example){
		.stack_id = (uint32_t)sid, .seen = (uint32_t)ps->nexamples, .count = value,
	};
	if (id_map_put(&w->key_entries, key, (uint32_t)ps->nexamples) != 0)
		return false;
	ps->nexamples++;
	return true;
}

static bool count_files(struct run_state *rs, size_t p, const uint32_t *seq, size_t len, double value)
{
	const struct speedscope *ss = rs->ss;
	struct package_work *w = &rs->work[p];

	if (!ss->nfiles)
		return true;
	if (!w->file_counts) {
		w->file_counts = calloc(ss->nfiles, sizeof(*w->file_counts));
		w->file_order = calloc(ss->nfiles, sizeof(*w->file_order));
		if (!w->file_counts || !w->file_order)
			return false;
	}
	for (size_t i = 0; i < len; i++) {
		uint32_t fid = ss->frames[seq[i]].file_id;

		if (fid == SS_NO_FILE)
			continue;
		w->file_counts[fid] += value;
		if (!w->file_order[fid])
			w->file_order[fid] = ++w->next_order;
	}
	return true;
}

static int by_count_then_seen(const void *x, const void *y)
{
	const struct stack_example *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->seen < b->seen ? -1 : a->seen > b->seen;
}

/* Top three files by count, ties in first-seen order (a stable sort). */
static void pick_top_files(const struct speedscope *ss, const struct package_work *w, struct package_stats *ps)
{
	ps->ntop = 0;
	if (!w->file_counts)
		return;
	for (size_t f = 0; f < ss->nfiles; f++) {
		if (!w->file_order[f])
			continue;
		struct top_file cand = { (uint32_t)f, w->file_counts[f] };
		size_t pos = ps->ntop;

		while (pos > 0) {
			const struct top_file *prev = &ps->top[pos - 1];

			if (prev->count > cand.count ||
			    (prev->count == cand.count && w->file_order[prev->file_id] < w->file_order[f]))
				break;
			pos--;
		}
		if (pos >= 3)
			continue;
		size_t last = ps->ntop < 3 ? ps->ntop : 2;

		memmove(&ps->top[pos + 1], &ps->top[pos], (last - pos) * sizeof(ps->top[0]));
		ps->top[pos] = cand;
		if (ps->ntop < 3)
			ps->ntop++;
	}
}

static bool setup_packages(struct analysis *a, const struct analysis_options *opts)
{
	a->packages = calloc(opts->npackages ? opts->npackages : 1, sizeof(*a->packages));
	a->row_package = calloc(opts->npackages ? opts->npackages : 1, sizeof(*a->row_package));
	if (!a->packages || !a->row_package)
		return false;
	a->nrows = opts->npackages;
	for (size_t i = 0; i < opts->npackages; i++) {
		size_t p;

		for (p = 0; p < a->npackages; p++)
			if (strcmp(a->packages[p].name, opts->packages[i]) == 0)
				break;
		if (p == a->npackages)
			a->packages[a->npackages++].name = opts->packages[i];
		a->packages[p].multiplicity++;
		a->row_package[i] = p;
	}
	return true;
}

static bool setup_filters(struct run_state *rs)
{
	const struct speedscope *ss = rs->ss;
	const char *uniq = rs->opts->filter_uniq;

	rs->frame_kept = calloc(ss->nframes ? ss->nframes : 1, sizeof(*rs->frame_kept));
	if (!rs->frame_kept)
		return false;
	for (size_t i = 0; i < ss->nframes; i++)
		rs->frame_kept[i] = analysis_frame_passes_filter(&ss->frames[i], rs->opts->name_filter);
	if (uniq && *uniq) {
		rs->line_is_uniq = calloc(ss->nlines ? ss->nlines : 1, sizeof(*rs->line_is_uniq));
		if (!rs->line_is_uniq)
			return false;
		for (size_t i = 0; i < ss->nlines; i++)
			rs->line_is_uniq[i] = strstr(ss->lines[i], uniq) != NULL;
	}
	return true;
}

static bool run_stacks(struct run_state *rs)
{
	const struct speedscope *ss = rs->ss;
	const struct analysis_options *opts = rs->opts;

	for (size_t sid = 0; sid < ss->stacks.count; sid++) {
		size_t len, nmatches;
		const uint32_t *seq = seq_table_get(&ss->stacks, sid, &len);
		double value = opts->by_weight ? ss->stack_weight[sid] : (double)ss->stack_samples[sid];
		int64_t key = -1;

		if (!find_matches(rs, sid, seq, len, &nmatches))
			return false;
		if (nmatches && opts->sample_stacks) {
			key = stack_key(rs, seq, len);
			if (key == -2)
				return false;
		}
		for (size_t i = 0; i < nmatches; i++) {
			size_t p = rs->matches[i];
			double v = value * (double)rs->out->packages[p].multiplicity;

			rs->out->packages[p].matched += v;
			if (!count_files(rs, p, seq, len, v))
				return false;
			if (key >= 0 && !count_example(rs, p, (uint32_t)key, sid, v))
				return false;
		}
	}
	return true;
}

bool analysis_run(const struct speedscope *ss, const struct analysis_options *opts, struct analysis *a)
{
	struct run_state rs = { .ss = ss, .opts = opts, .out = a };
	bool ok = false;

	memset(a, 0, sizeof(*a));
	a->total = opts->by_weight ? ss->total_weight : (double)ss->total_samples;
	seq_table_init(&rs.keys);
	if (!setup_packages(a, opts) || !setup_filters(&rs))
		goto out;
	rs.work = calloc(a->npackages ? a->npackages : 1, sizeof(*rs.work));
	rs.matches = calloc(a->npackages ? a->npackages : 1, sizeof(*rs.matches));
	if (!rs.work || !rs.matches || !run_stacks(&rs))
		goto out;
	for (size_t p = 0; p < a->npackages; p++) {
		struct package_stats *ps = &a->packages[p];

		pick_top_files(ss, &rs.work[p], ps);
		/* Default: the first N keys met, shown by count; --most-frequent:
		 * the N largest counts. Both orders are stable. */
		if (ps->nexamples > 1)
			qsort(ps->examples, ps->nexamples, sizeof(*ps->examples), by_count_then_seen);
		if (opts->max_examples <= 0)
			ps->nexamples = 0;
		else if ((long)ps->nexamples > opts->max_examples)
			ps->nexamples = (size_t)opts->max_examples;
	}
	ok = true;
out:
	if (rs.work)
		for (size_t p = 0; p < a->npackages; p++) {
			free(rs.work[p].file_counts);
			free(rs.work[p].file_order);
			id_map_free(&rs.work[p].key_entries);
		}
	free(rs.work);
	free(rs.matches);
	free(rs.frame_kept);
	free(rs.line_is_uniq);
	free(rs.joined);
	free(rs.scratch);
	free(rs.scratch2);
	seq_table_free(&rs.keys);
	return ok;
}

void analysis_free(struct analysis *a)
{
	if (a->packages)
		for (size_t p = 0; p < a->npackages; p++)
			free(a->packages[p].examples);
	free(a->packages);
	free(a->row_package);
	memset(a, 0, sizeof(*a));
}
