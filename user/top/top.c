// SPDX-License-Identifier: MIT
/* `bpfspy top`: a session whose samples update two live tables as they arrive, drawn every refresh. */
#include "top/top.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampler/sampler.h"
#include "recorder/recorder.h"
#include "session/session.h"
#include "process/target_process.h"
#include "top/top_feed.h"
#include "top/top_options.h"
#include "top/top_screen.h"
#include "top/top_view.h"
#include "util/log.h"
#include "util/u32map.h"

#define POLL_MS 20 /* keys are read between polls */
#define PLAIN_MAX_ROWS 40

/* Counts straight from the sampler's records, for the header. */
struct interval_counts {
	uint64_t samples; /* on-CPU */
	uint64_t python_samples, gil_samples;
	struct u32map threads, pids; /* seen in this interval */
	uint64_t start_ns;
};

struct top_session {
	const struct top_options *o;
	struct session *session;
	struct top_table *by_function, *by_line;
	struct top_feed *feed;
	struct interval_counts iv;
	uint64_t samples; /* since the start or the last reset */

	bool ended;     /* the targets exited */
	pid_t root_pid; /* the launched command or the first -p PID; 0 with -a */

	char target[600];
	char python_version[16];

	bool screen;       /* the full-screen view is up */
	bool line_mode;
	enum top_sort sort;
	struct top_header header;
	char status[256];
	struct top_lines lines;
};

/* ---- records ------------------------------------------------------------ */

static void count_sample(struct interval_counts *iv, const struct bpfspy_sample *s)
{
	if (s->flags & SAMPLE_OFFCPU)
		return; /* --idle: an off-CPU interval, not a tick; it counts in the tables only */
	iv->samples++;
	if (s->flags & SAMPLE_PY_PROCESS)
		iv->python_samples++;
	if (s->flags & SAMPLE_GIL_HOLDER)
		iv->gil_samples++;
	if (s->tid)
		u32map_put(&iv->threads, s->tid, (void *)1);
	if (s->pid)
		u32map_put(&iv->pids, s->pid, (void *)1);
}

static void on_sample_record(void *ctx, const struct bpfspy_sample *sample)
{
	struct top_session *s = ctx;
	count_sample(&s->iv, sample);
	s->samples++;
}

/* The sample sink: each sample goes into the tables as the recorder finishes it, and is not kept. */
static int add_sample(void *ctx, uint32_t pid, uint32_t tid, const uint32_t *frames, size_t n, uint64_t weight,
		      uint64_t ts_ns)
{
	struct top_session *s = ctx;
	return top_feed_add_sample(s->feed, session_profile(s->session), frames, n, weight);
}

/* ---- the header --------------------------------------------------------- */

static unsigned live_threads(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	unsigned n = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* As the recorder detected it: the header shows it once known. */
static void read_python_version(struct top_session *s)
{
	if (!s->python_version[0] && s->root_pid)
		recorder_python_version(session_recorder(s->session), s->root_pid, s->python_version,
					sizeof(s->python_version));
}

static void describe_target(struct top_session *s)
{
	const struct top_options *o = s->o;
	size_t pos = 0, len = sizeof(s->target) - 2;
	char *buf = s->target + 1;
	if (o->target.all) {
		snprintf(s->target, sizeof(s->target), "%zu processes (all processes)", s->iv.pids.len);
		return;
	}
	if (o->target.ncommand > 0) {
		for (int i = 0; i < o->target.ncommand && pos < len; i++)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", o->target.command[i]);
	} else {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", s->root_pid);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, len - 1, f) : 0;
		if (f)
			fclose(f);
		while (n > 0 && buf[n - 1] == '\0')
			n--;
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		pos = n ? n : (size_t)snprintf(buf, len, "pid %d", s->root_pid);
		if (o->target.npids > 1)
			pos += (size_t)snprintf(buf + pos, len - pos, " and %zu more processes", o->target.npids - 1);
	}
	if (pos > len - 1)
		pos = len - 1;
	s->target[0] = '\'';
	buf[pos] = '\'';
	buf[pos + 1] = '\0';
}

/* Closes the interval: header numbers as py-spy shows them, from on-CPU samples. */
static void close_interval(struct top_session *s, uint64_t now)
{
	struct interval_counts *iv = &s->iv;
	double secs = (double)(now - iv->start_ns) / 1e9;
	unsigned threads = (unsigned)iv->threads.len;
	if (!s->o->target.all && s->root_pid) {
		unsigned live = live_threads(s->root_pid);
		if (live > threads)
			threads = live;
	}
	double possible = secs * s->o->target.rate_hz * (threads ? threads : 1);
	double active = possible > 0 ? 100.0 * (double)iv->samples / possible : 0.0;
	describe_target(s);
	s->header.gil_percent = iv->python_samples ? 100.0 * (double)iv->gil_samples / (double)iv->python_samples : 0;
	s->header.active_percent = active > 100.0 ? 100.0 : active;
	s->header.threads = threads;

	iv->samples = iv->python_samples = iv->gil_samples = 0;
	u32map_free(&iv->threads);
	u32map_free(&iv->pids);
	iv->start_ns = now;
}

/* ---- drawing ------------------------------------------------------------ */

static const char *sort_name(enum top_sort sort)
{
	static const char *const names[] = { "%Own", "%Total", "OwnTime", "TotalTime" };
	return names[sort];
}

static void set_keys_status(struct top_session *s)
{
	snprintf(s->status, sizeof(s->status),
		 "sorted by %s | keys: 1-4 sort  l %s  r reset  q quit", sort_name(s->sort),
		 s->line_mode ? "functions" : "lines");
}

static void draw(struct top_session *s)
{
	struct top_table *t = s->line_mode ? s->by_line : s->by_function;
	s->header.target = s->target;
	s->header.python_version = s->python_version;
	s->header.samples = s->samples;
	s->header.line_mode = s->line_mode;
	s->header.status = s->status;
	size_t rows = PLAIN_MAX_ROWS;
	if (s->screen) {
		int h = top_screen_rows();
		rows = h > TOP_VIEW_CHROME_LINES ? (size_t)(h - TOP_VIEW_CHROME_LINES) : 0;
	}
	double units_per_second = s->o->target.idle ? 1e9 : s->o->target.rate_hz;
	if (top_view_render(&s->header, t, s->sort, units_per_second, rows, &s->lines) != 0)
		return;
	if (s->screen) {
		top_screen_draw(s->lines.lines, s->lines.n);
		return;
	}
	for (size_t i = 0; i < s->lines.n; i++)
		if (s->lines.lines[i][0] || i + 1 < s->lines.n)
			printf("%s\n", s->lines.lines[i]);
	printf("\n");
	fflush(stdout);
}

static void refresh(struct top_session *s)
{
	top_table_end_interval(s->by_function);
	top_table_end_interval(s->by_line);
	read_python_version(s);
	close_interval(s, monotonic_ns());
	draw(s);
}

/* ---- keys --------------------------------------------------------------- */

/* Returns true when the key asks to quit. */
static bool handle_key(struct top_session *s, int key)
{
	switch (key) {
	case 'q':
	case 'Q':
		return true;
	case '1':
	case '2':
	case '3':
	case '4':
		s->sort = (enum top_sort)(key - '1');
		break;
	case 'l':
	case 'L':
		s->line_mode = !s->line_mode;
		break;
	case 'r':
	case 'R':
		top_table_reset(s->by_function);
		top_table_reset(s->by_line);
		s->samples = 0;
		break;
	default:
		return false;
	}
	if (!s->ended)
		set_keys_status(s);
	draw(s);
	return false;
}

/* ---- the loop ----------------------------------------------------------- */

static void describe_end(struct top_session *s)
{
	if (session_launched(s->session)) {
		int code = session_command_exit_code(s->session);
		snprintf(s->status, sizeof(s->status), "the command exited with status %d%s", code,
			 s->screen && top_screen_has_keys() && !s->o->once ? ": press any key to quit" : "");
	} else {
		snprintf(s->status, sizeof(s->status), "the process%s exited%s", s->o->target.npids > 1 ? "es" : "",
			 s->screen && top_screen_has_keys() && !s->o->once ? ": press any key to quit" : "");
	}
}

/* Between polls: keys, and a redraw after a resize or a resume. Returns true when a key asks to quit. */
static bool on_wake(void *ctx)
{
	struct top_session *s = ctx;
	for (int key; s->screen && (key = top_screen_read_key()) != TOP_KEY_NONE;)
		if (handle_key(s, key))
			return true;
	if (s->screen && top_screen_take_redraw())
		draw(s);
	return false;
}

static void on_refresh(void *ctx)
{
	refresh(ctx);
}

/* Runs until the targets end (returns true) or the user quits (false). */
static bool watch(struct top_session *s)
{
	struct session_hooks h = { .ctx = s, .period_ns = (uint64_t)(s->o->delay_s * 1e9), .on_period = on_refresh,
				   .on_wake = on_wake, .max_wait_ms = POLL_MS };
	s->iv.start_ns = session_start_ns(s->session);
	describe_target(s);
	if (s->screen)
		draw(s);
	if (session_run(s->session, &h) != SESSION_TARGETS_EXITED)
		return false;
	s->ended = true;
	describe_end(s);
	refresh(s);
	return true;
}

static void wait_for_key(struct top_session *s)
{
	while (!session_signal()) {
		if (top_screen_wait_key(200) != TOP_KEY_NONE)
			return;
		if (top_screen_take_redraw())
			draw(s);
	}
}

static int run(struct top_session *s)
{
	s->screen = top_screen_open() == 0;
	set_keys_status(s);
	int rc = session_start(s->session);
	if (rc != 0) {
		top_screen_close();
		return rc;
	}
	s->root_pid = session_root_pid(s->session);
	bool ended = watch(s);
	if (ended && s->screen && top_screen_has_keys() && !s->o->once)
		wait_for_key(s);
	bool was_screen = s->screen;
	top_screen_close();
	s->screen = false;
	if (ended && was_screen && (s->o->once || !top_screen_has_keys()))
		draw(s); /* the final table, on the normal screen */
	if (!ended) {
		session_end_command(s->session);
		return 0;
	}
	return session_launched(s->session) ? session_command_exit_code(s->session) : 0;
}

static void top_session_free(struct top_session *s)
{
	session_free(s->session);
	top_feed_free(s->feed);
	top_table_free(s->by_function);
	top_table_free(s->by_line);
	u32map_free(&s->iv.threads);
	u32map_free(&s->iv.pids);
	top_lines_clear(&s->lines);
}

int cmd_top(int argc, char **argv)
{
	struct top_options o;
	int e = top_options_parse(argc, argv, &o);
	if (e != 0)
		return e > 0 ? 0 : 2;
	int rc = session_check(o.target.pids, o.target.npids, o.target.command, o.target.ncommand);
	if (rc != 0)
		return rc;

	struct profile_meta meta = { .command = "top", .rate_hz = o.target.rate_hz, .start_ns = monotonic_ns(),
				     .unit = o.target.idle ? PROFILE_UNIT_NANOSECONDS : PROFILE_UNIT_SAMPLES };
	struct top_session s = { .o = &o, .sort = TOP_SORT_OWN_TIME };
	s.by_function = top_table_new();
	s.by_line = top_table_new();
	s.feed = s.by_function && s.by_line
			 ? top_feed_new(s.by_function, s.by_line, o.full_filenames, o.target.native, o.target.all)
			 : NULL;
	if (!s.feed) {
		log_error("out of memory");
		top_session_free(&s);
		return 1;
	}
	/* record's sampling defaults: native stacks unwound in the kernel, a stack copy only where no table is loaded yet */
	struct session_options so = {
		.target = o.target,
		.max_depth = BPFSPY_DEFAULT_PY_DEPTH,
		.stack_size = BPFSPY_DEFAULT_STACK_SNAPSHOT,
		.max_native_frames = BPFSPY_DEFAULT_NATIVE_FRAMES,
		.command_stdio_null = isatty(STDOUT_FILENO), /* the full-screen view */
		.recording = { .gil_only = o.target.gil },
		.sink = { .add_sample = add_sample, .ctx = &s },
		.on_sample_record = on_sample_record,
		.on_sample_record_ctx = &s,
	};
	s.session = session_new(&so, &meta);
	if (!s.session) {
		top_session_free(&s);
		return 1;
	}
	rc = run(&s);
	top_session_free(&s);
	return rc;
}
