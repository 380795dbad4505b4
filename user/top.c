// SPDX-License-Identifier: MIT
/* `bpfspy top`: sampler + recorder feeding two live tables, drawn every refresh. */
#include "python/py_method_symbols.h"
#include "top.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "loader.h"
#include "recorder/recorder.h"
#include "target_process.h"
#include "top_feed.h"
#include "top_options.h"
#include "top_screen.h"
#include "top_view.h"
#include "util/log.h"
#include "util/proc_stat.h"
#include "util/u32map.h"

#define POLL_MS 20
#define PLAIN_MAX_ROWS 40
#define VERSION_TRIES 20
#define CHILD_TERM_GRACE_MS 2000

static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig)
{
	quit_signal = sig;
}

/* Counts straight from the sampler's records, for the header. */
struct interval_counts {
	uint64_t samples; /* on-CPU */
	uint64_t python_samples, gil_samples;
	struct u32map threads, pids; /* seen in this interval */
	uint64_t start_ns;
};

struct top_session {
	const struct top_options *o;
	struct profile *profile;
	struct recorder *recorder;
	struct sampler *sampler;
	struct top_table *by_function, *by_line;
	struct top_feed *feed;
	struct interval_counts iv;
	uint64_t samples; /* since the start or the last reset */

	struct launched child;
	bool launched, child_done;
	int child_status;
	pid_t root_pid; /* the launched command or the first -p PID; 0 with -a */

	char target[600];
	char python_version[16];
	struct elf_cache *elf;
	int version_tries;

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

static int on_record(void *ctx, const void *data, size_t size)
{
	struct top_session *s = ctx;
	if (size >= sizeof(struct bpfspy_sample) && *(const __u32 *)data == EV_SAMPLE) {
		count_sample(&s->iv, data);
		s->samples++;
	}
	return recorder_on_record(s->recorder, data, size);
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

static void detect_python_version(struct top_session *s)
{
	if (s->python_version[0] || !s->root_pid || s->version_tries >= VERSION_TRIES)
		return;
	s->version_tries++;
	if (!s->elf && !(s->elf = elf_cache_new(&py_method_names)))
		return;
	struct target_process *p = target_process_new(s->root_pid, NULL);
	if (!p)
		return;
	bool quiet = log_verbosity() < 2;
	int saved = log_verbosity();
	if (quiet)
		log_set_verbosity(0); /* an unsupported Python is already reported by the recorder */
	target_process_detect_python(p, s->elf);
	log_set_verbosity(saved);
	if (p->python == PYTHON_YES)
		snprintf(s->python_version, sizeof(s->python_version), "%s", p->py.version);
	target_process_free(p);
}

static void describe_target(struct top_session *s)
{
	const struct top_options *o = s->o;
	size_t pos = 0, len = sizeof(s->target) - 2;
	char *buf = s->target + 1;
	if (o->all) {
		snprintf(s->target, sizeof(s->target), "%zu processes (all processes)", s->iv.pids.len);
		return;
	}
	if (o->ncommand > 0) {
		for (int i = 0; i < o->ncommand && pos < len; i++)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", o->command[i]);
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
		if (o->npids > 1)
			pos += (size_t)snprintf(buf + pos, len - pos, " and %zu more processes", o->npids - 1);
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
	if (!s->o->all && s->root_pid) {
		unsigned live = live_threads(s->root_pid);
		if (live > threads)
			threads = live;
	}
	double possible = secs * s->o->rate_hz * (threads ? threads : 1);
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
	double units_per_second = s->o->idle ? 1e9 : s->o->rate_hz;
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
	top_feed_drain(s->feed, s->profile);
	top_table_end_interval(s->by_function);
	top_table_end_interval(s->by_line);
	detect_python_version(s);
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
	if (!s->child_done)
		set_keys_status(s);
	draw(s);
	return false;
}

/* ---- targets ------------------------------------------------------------ */

/* A zombie has exited (only its parent's wait is missing): kill(pid, 0) would still succeed on it. */
static bool targets_alive(const struct top_options *o)
{
	for (size_t i = 0; i < o->npids; i++)
		if (proc_is_alive(o->pids[i]))
			return true;
	return false;
}

static void reap_child(struct top_session *s, bool block)
{
	if (!s->launched || s->child_done)
		return;
	int st;
	if (waitpid(s->child.pid, &st, block ? 0 : WNOHANG) == s->child.pid) {
		s->child_done = true;
		s->child_status = st;
	}
}

/* A quit while the command still runs ends it: SIGTERM, then SIGKILL after a grace period. */
static void stop_child(struct top_session *s)
{
	if (!s->launched || s->child_done)
		return;
	kill(s->child.pid, SIGTERM);
	for (int waited = 0; waited < CHILD_TERM_GRACE_MS && !s->child_done; waited += POLL_MS) {
		usleep(POLL_MS * 1000);
		reap_child(s, false);
	}
	if (!s->child_done) {
		kill(s->child.pid, SIGKILL);
		reap_child(s, true);
	}
}

/* With the live view on screen the command must not write over it or read its keys. */
static int launch_detached(struct top_session *s, char *err, size_t errlen)
{
	int saved[3] = { -1, -1, -1 }, null = -1, rc = -1;
	if (s->screen) {
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd < 3 && null >= 0; fd++) {
			saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			dup2(null, fd);
		}
	}
	rc = launch_prepare(s->o->command, &s->child, err, errlen);
	for (int fd = 0; fd < 3; fd++)
		if (saved[fd] >= 0) {
			dup2(saved[fd], fd);
			close(saved[fd]);
		}
	if (null >= 0)
		close(null);
	return rc;
}

static int start_targets(struct top_session *s, char *err, size_t errlen)
{
	const struct top_options *o = s->o;
	if (o->ncommand > 0) {
		if (launch_detached(s, err, errlen) != 0)
			return -1;
		s->launched = true;
		s->root_pid = s->child.pid;
		sampler_follow(s->sampler, s->child.pid);
		recorder_preload_command(s->recorder, o->command[0]);
	}
	for (size_t i = 0; i < o->npids; i++) {
		sampler_follow(s->sampler, o->pids[i]);
		recorder_add_process(s->recorder, o->pids[i]);
	}
	if (o->npids)
		s->root_pid = o->pids[0];
	if (sampler_attach(s->sampler, err, errlen) != 0)
		return -1;
	/* --idle: a thread blocked since before the attach counts from then when it wakes */
	char seed_err[256];
	if (o->idle && (o->npids || o->all) && recorder_seed_offcpu(s->recorder, seed_err, sizeof(seed_err)) < 0)
		log_warn("%s: threads blocked since before the attach are missing", seed_err);
	s->iv.start_ns = monotonic_ns();
	if (s->launched && launch_release(&s->child, err, errlen) != 0) {
		reap_child(s, true);
		return -1;
	}
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static bool target_ended(struct top_session *s)
{
	reap_child(s, false);
	if (s->launched)
		return s->child_done;
	return s->o->npids && !targets_alive(s->o);
}

static void describe_end(struct top_session *s)
{
	if (s->launched) {
		int code = launch_exit_code(s->child_status);
		snprintf(s->status, sizeof(s->status), "the command exited with status %d%s", code,
			 s->screen && top_screen_has_keys() && !s->o->once ? ": press any key to quit" : "");
	} else {
		snprintf(s->status, sizeof(s->status), "the process%s exited%s", s->o->npids > 1 ? "es" : "",
			 s->screen && top_screen_has_keys() && !s->o->once ? ": press any key to quit" : "");
	}
}

/* Runs until the target ends (returns true) or the user quits (false). */
static bool watch(struct top_session *s)
{
	uint64_t period = (uint64_t)(s->o->delay_s * 1e9), next = monotonic_ns() + period;
	describe_target(s);
	if (s->screen)
		draw(s);
	for (;;) {
		size_t tables_waiting = recorder_install_queued_tables(s->recorder, 1);
		int n = sampler_poll(s->sampler, tables_waiting ? 0 : POLL_MS);
		if (n < 0 && n != -EINTR) {
			log_error("reading samples failed: %s", strerror(-n));
			return false;
		}
		if (quit_signal)
			return false;
		for (int key; s->screen && (key = top_screen_read_key()) != TOP_KEY_NONE;)
			if (handle_key(s, key))
				return false;
		if (target_ended(s)) {
			while (sampler_poll(s->sampler, 0) > 0)
				;
			describe_end(s);
			refresh(s);
			return true;
		}
		uint64_t now = monotonic_ns();
		if (now >= next) {
			refresh(s);
			next = next + period > now ? next + period : now + period;
		} else if (s->screen && top_screen_take_redraw()) {
			draw(s);
		}
	}
}

static void wait_for_key(struct top_session *s)
{
	while (!quit_signal) {
		if (top_screen_wait_key(200) != TOP_KEY_NONE)
			return;
		if (top_screen_take_redraw())
			draw(s);
	}
}

static int run(struct top_session *s)
{
	char err[512];
	struct sampler_options so = {
		.rate_hz = s->o->rate_hz,
		.follow_all = s->o->all,
		.follow_children = s->o->subprocesses,
		.py_max_depth = BPFSPY_DEFAULT_PY_DEPTH,
		/* as record: native stacks unwound in the kernel, a stack copy only where no table is loaded yet */
		.stack_snapshot_bytes = BPFSPY_DEFAULT_STACK_SNAPSHOT,
		.new_code_snapshot_bytes = s->o->native ? BPFSPY_MAX_STACK_SNAPSHOT : 0,
		.native_merge = s->o->native,
		.kernel_unwind = true,
		.native_max_frames = BPFSPY_DEFAULT_NATIVE_FRAMES,
		.offcpu = s->o->idle,
	};
	if (sampler_open(&so, on_record, s, &s->sampler, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	recorder_set_sampler(s->recorder, s->sampler);
	s->screen = top_screen_open() == 0;
	set_keys_status(s);
	if (start_targets(s, err, sizeof(err)) != 0) {
		top_screen_close();
		log_error("%s", err);
		if (s->launched && !s->child_done)
			launch_abort(&s->child);
		return s->launched ? 127 : 1;
	}
	bool ended = watch(s);
	if (ended && s->screen && top_screen_has_keys() && !s->o->once)
		wait_for_key(s);
	bool was_screen = s->screen;
	top_screen_close();
	s->screen = false;
	if (ended && was_screen && (s->o->once || !top_screen_has_keys()))
		draw(s); /* the final table, on the normal screen */
	if (!ended) {
		stop_child(s);
		return 0;
	}
	return s->launched ? launch_exit_code(s->child_status) : 0;
}

static int check_pids(struct top_options *o)
{
	for (size_t i = 0; i < o->npids; i++)
		if (proc_check_target(&o->pids[i]) != 0)
			return -1;
	return 0;
}

static void install_quit_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_quit_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void session_free(struct top_session *s)
{
	sampler_close(s->sampler);
	recorder_free(s->recorder);
	profile_free(s->profile);
	top_feed_free(s->feed);
	top_table_free(s->by_function);
	top_table_free(s->by_line);
	u32map_free(&s->iv.threads);
	u32map_free(&s->iv.pids);
	elf_cache_free(s->elf);
	top_lines_clear(&s->lines);
}

int cmd_top(int argc, char **argv)
{
	struct top_options o;
	int e = top_options_parse(argc, argv, &o);
	if (e != 0)
		return e > 0 ? 0 : 2;
	char err[512];
	if (sampler_check_privileges(err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	if (check_pids(&o) != 0)
		return 1;

	struct profile_meta meta = { .command = "top", .rate_hz = o.rate_hz, .start_ns = monotonic_ns(),
				     .unit = o.idle ? PROFILE_UNIT_NANOSECONDS : PROFILE_UNIT_SAMPLES };
	struct top_session s = { .o = &o, .sort = TOP_SORT_OWN_TIME, .child = { .go_fd = -1, .status_fd = -1 } };
	struct recorder_options ro = { .gil_only = o.gil, .quiet_warnings = true, .idle = o.idle,
				       .native = o.native, .kernel_unwind = true, .rate_hz = o.rate_hz };
	s.profile = profile_new(&meta);
	s.recorder = s.profile ? recorder_new(&ro, s.profile) : NULL;
	s.by_function = top_table_new();
	s.by_line = top_table_new();
	s.feed = s.by_function && s.by_line ? top_feed_new(s.by_function, s.by_line, o.full_filenames, o.native, o.all) : NULL;
	if (!s.recorder || !s.feed) {
		log_error("out of memory");
		session_free(&s);
		return 1;
	}
	install_quit_handlers();
	int rc = run(&s);
	session_free(&s);
	return rc;
}
