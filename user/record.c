// SPDX-License-Identifier: MIT
/* `bpfspy record`: set up the sampler and targets, record until done, write the profile. */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "loader.h"
#include "output/formats.h"
#include "output/output_file.h"
#include "profile.h"
#include "record_options.h"
#include "recorder/recorder.h"
#include "native/kernel_unwind.h"
#include "target_process.h"
#include "util/invoking_user.h"
#include "util/log.h"
#include "util/proc_stat.h"

/*
 * The loop's slow timer. Samples are queued in BPF without wake-ups; BPF
 * wakes the loop when 1 MiB is queued, process events wake it at once, and
 * signals (SIGCHLD included) interrupt the wait. Everything else waits for
 * this timer: a shorter one only costs wake-ups (the fixed cost of a
 * profiler attached to an idle or lightly loaded host).
 */
#define DRAIN_EVERY_MS 200
#define STATUS_EVERY_NS 500000000ull
#define SIGINT_GRACE_NS 2000000000ull /* after Ctrl-C, wait this long for a launched command to end */
#define END_COMMAND_GRACE_MS 2000      /* after SIGINT, then after SIGTERM, before the next signal */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* A launched command's exit interrupts the wait: the recording ends at once, not at the next timer. */
static void on_child_signal(int sig)
{
	(void)sig;
}

/*
 * Every signal that would end bpfspy ends the recording instead, and the
 * file is written: a hang-up of the terminal or SSH session (SIGHUP), Ctrl-\
 * (SIGQUIT), Ctrl-C, kill. SIGPIPE (the status line to a closed pipe) is
 * ignored: the write fails and recording goes on. Only SIGKILL loses data.
 */
static void install_signal_handlers(void)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		sigaction(stops[i], &sa, NULL);
	struct sigaction child = { .sa_handler = on_child_signal, .sa_flags = SA_NOCLDSTOP };
	sigemptyset(&child.sa_mask);
	sigaction(SIGCHLD, &child, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- targets ------------------------------------------------------------ */

typedef void (*pid_fn)(void *ctx, pid_t pid);

static void for_each_pid(pid_fn fn, void *ctx)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		fn(ctx, (pid_t)pid);
	}
	closedir(d);
}

struct follow_ctx {
	struct sampler *sampler;
	struct recorder *recorder;
	const struct record_options *o;
};

static void follow_existing_descendant(void *arg, pid_t pid)
{
	struct follow_ctx *c = arg;
	if (proc_descends_from(pid, c->o->pids, c->o->npids)) {
		sampler_follow(c->sampler, pid);
		recorder_add_process(c->recorder, pid);
	}
}

static void prescan_process(void *arg, pid_t pid)
{
	struct follow_ctx *c = arg;
	if (pid != getpid() && !proc_is_kernel_thread(pid))
		recorder_add_process(c->recorder, pid);
}

/* ---- output ------------------------------------------------------------- */

static char *default_output_name(const struct record_options *o)
{
	char stamp[32], name[64] = "all";
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (o->ncommand > 0) {
		const char *base = strrchr(o->command[0], '/');
		snprintf(name, sizeof(name), "%s", base ? base + 1 : o->command[0]);
	} else if (o->npids > 0) {
		snprintf(name, sizeof(name), "pid%d", o->pids[0]);
	}
	char *out = NULL;
	if (asprintf(&out, "bpfspy-%s-%s%s", name, stamp, output_format_extension(o->format)) < 0)
		return NULL;
	return out;
}

static void describe_command(const struct record_options *o, char *buf, size_t len)
{
	size_t pos = 0;
	buf[0] = '\0';
	if (o->all) {
		snprintf(buf, len, "all processes");
		return;
	}
	if (o->npids) {
		pos += (size_t)snprintf(buf, len, "pid");
		for (size_t i = 0; i < o->npids && pos < len; i++)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%d", i ? "," : " ", o->pids[i]);
		return;
	}
	for (int i = 0; i < o->ncommand && pos < len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", o->command[i]);
}

static int write_profile_to(const struct profile *p, enum output_format format, const struct write_options *wo,
			    const char *path, char *err, size_t errlen)
{
	struct output_file *out = output_file_open(path, err, errlen);
	if (!out)
		return -1;

	if (write_profile_format(p, format, output_file_stream(out), wo) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		output_file_abort(out);
		return -1;
	}
	return output_file_commit(out, err, errlen) == 0 ? 0 : -1;
}

/*
 * The recording must survive a failed write (full disk, a directory removed
 * meanwhile, a FIFO nobody reads): the same name in $TMPDIR (or /tmp), then
 * in the invoking user's home, never over an existing file.
 */
static int rescue_profile(const struct profile *p, enum output_format format, const struct write_options *wo,
			  const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *tmpdir = getenv("TMPDIR");
	const char *dirs[] = { tmpdir && *tmpdir ? tmpdir : "/tmp", invoking_user_home() };
	char stream_name[64], err[512];

	if (output_path_is_stream(path) || !*base) {
		snprintf(stream_name, sizeof(stream_name), "bpfspy-rescued%s", output_format_extension(format));
		base = stream_name;
	}
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		if (!dirs[d])
			continue;
		for (int n = 0; n < 100; n++) {
			char *candidate = NULL;
			struct stat st;
			if ((n ? asprintf(&candidate, "%s/%s.%d", dirs[d], base, n)
			       : asprintf(&candidate, "%s/%s", dirs[d], base)) < 0)
				return -1;
			if (lstat(candidate, &st) == 0) {
				free(candidate);
				continue;
			}
			int rc = write_profile_to(p, format, wo, candidate, err, sizeof(err));
			if (rc == 0)
				log_error("the recording was saved to %s instead", candidate);
			free(candidate);
			if (rc == 0)
				return 0;
			break; /* this directory does not work: try the next */
		}
	}
	log_error("could not save the recording anywhere (last error: %s)", err);
	return -1;
}

static int write_profile(const struct profile *p, enum output_format format, const struct write_options *wo,
			 const char *path)
{
	char err[512];

	if (write_profile_to(p, format, wo, path, err, sizeof(err)) == 0)
		return 0;
	log_error("%s", err);
	rescue_profile(p, format, wo, path);
	return -1; /* the file asked for was not written: exit non-zero even when rescued */
}

/* ---- the recording loop ------------------------------------------------- */

struct session {
	const struct record_options *o;
	struct sampler *sampler;
	struct recorder *recorder;
	struct profile *profile;
	struct launched child;
	bool launched;
	int child_status;
	bool child_done;
	uint64_t start_ns;
};

static void print_status(struct session *s, bool final)
{
	struct sampler_stats st;
	struct recorder_stats rs;
	sampler_read_stats(s->sampler, &st);
	recorder_read_stats(s->recorder, &rs);
	double secs = (double)(monotonic_ns() - s->start_ns) / 1e9;
	fprintf(stderr, "\r\033[Kbpfspy: %.1fs  %llu samples  %zu processes  %llu lost%s", secs,
		(unsigned long long)rs.samples, rs.processes, (unsigned long long)st.lost, final ? "\n" : "");
	fflush(stderr);
}

/* A zombie has exited: only its parent's wait is missing. */
static bool targets_alive(const struct record_options *o)
{
	for (size_t i = 0; i < o->npids; i++)
		if (proc_is_alive(o->pids[i]))
			return true;
	return false;
}

static void reap_child(struct session *s, bool block)
{
	if (!s->launched || s->child_done)
		return;
	int st;
	pid_t r = waitpid(s->child.pid, &st, block ? 0 : WNOHANG);
	if (r == s->child.pid) {
		s->child_done = true;
		s->child_status = st;
	}
}

/* How long the loop may sleep: the slow timer, or less when a deadline, the status line or a grace ends sooner. */
static int next_wait_ms(const struct session *s, bool tty, uint64_t last_status, uint64_t deadline, uint64_t stop_at)
{
	uint64_t now = monotonic_ns(), wait = DRAIN_EVERY_MS * 1000000ull;
	uint64_t ends[] = { deadline, tty ? last_status + STATUS_EVERY_NS : 0, stop_at };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (ends[i] && (ends[i] <= now ? 0 : ends[i] - now) < wait)
			wait = ends[i] <= now ? 0 : ends[i] - now;
	if (stop_signal && !stop_at)
		wait = 0;
	return (int)((wait + 999999) / 1000000);
}

static void record_loop(struct session *s)
{
	const struct record_options *o = s->o;
	bool tty = isatty(STDERR_FILENO) && o->verbosity > 0 && !o->hide_progress;
	uint64_t last_status = 0, deadline = o->duration_s > 0 ? s->start_ns + (uint64_t)(o->duration_s * 1e9) : 0;
	uint64_t stop_at = 0;

	for (;;) {
		/* unwind tables wait for a pause in the records, one process at a time */
		size_t tables_waiting = recorder_install_queued_tables(s->recorder, 1);
		int n = sampler_poll(s->sampler, tables_waiting ? 0 : next_wait_ms(s, tty, last_status, deadline, stop_at));
		if (n < 0 && n != -EINTR) {
			log_error("reading samples failed: %s", strerror(-n));
			break;
		}
		uint64_t now = monotonic_ns();
		reap_child(s, false);
		if (s->child_done)
			break;
		if (deadline && now >= deadline)
			break;
		if (o->npids && !targets_alive(o)) {
			log_info("the target process%s exited", o->npids > 1 ? "es" : "");
			break;
		}
		if (stop_signal) {
			/* Ctrl-C reached a launched command too: give it a moment to finish. */
			if (!s->launched || stop_signal != SIGINT)
				break;
			if (!stop_at)
				stop_at = now + SIGINT_GRACE_NS;
			if (now >= stop_at)
				break;
		}
		if (tty && now - last_status >= STATUS_EVERY_NS) {
			print_status(s, false);
			last_status = now;
		}
	}
	/* whatever is still queued belongs to the profile */
	while (sampler_poll(s->sampler, 0) > 0)
		;
	if (tty)
		fprintf(stderr, "\r\033[K");
}

static void print_summary(struct session *s, const char *path, const char *format)
{
	struct sampler_stats st;
	struct recorder_stats rs;
	sampler_read_stats(s->sampler, &st);
	recorder_read_stats(s->recorder, &rs);
	double secs = (double)(monotonic_ns() - s->start_ns) / 1e9;
	uint64_t taken = rs.samples + st.lost;
	fprintf(stderr, "bpfspy: %llu samples from %zu process%s (%zu threads) in %.2fs; %llu lost (%.2f%%)\n",
		(unsigned long long)rs.samples, profile_process_count(s->profile),
		profile_process_count(s->profile) == 1 ? "" : "es", profile_thread_count(s->profile), secs,
		(unsigned long long)st.lost, taken ? 100.0 * (double)st.lost / (double)taken : 0.0);
	if (rs.py_window_samples)
		fprintf(stderr,
			"bpfspy: Python frames in %.2f%% of samples taken while Python ran "
			"(%.2f%% of all %llu samples of Python processes, startup and exit included)%s\n",
			100.0 * (double)rs.py_samples_with_frames / (double)rs.py_window_samples,
			100.0 * (double)rs.py_samples_with_frames / (double)rs.py_process_samples,
			(unsigned long long)rs.py_process_samples,
			rs.py_truncated ? "; some stacks truncated (see --max-depth)" : "");
	char native_line[256];
	recorder_native_summary(s->recorder, native_line, sizeof(native_line));
	if (native_line[0])
		fprintf(stderr, "bpfspy: %s\n", native_line);
	if (!s->o->native && rs.native_only_samples)
		fprintf(stderr, "bpfspy: native stacks (no Python frames): %.1f%% of %llu samples reached the "
				"program's entry%s\n",
			100.0 * (double)rs.native_only_complete / (double)rs.native_only_samples,
			(unsigned long long)rs.native_only_samples,
			rs.native_only_complete < rs.native_only_samples
				? "; the rest began before bpfspy loaded their unwind tables or met code without CFI"
				: "");
	struct kernel_unwind_stats ku;
	recorder_read_unwind_stats(s->recorder, &ku);
	if (log_verbosity() >= 2 && ku.installs)
		fprintf(stderr, "bpfspy: unwind tables: %llu installs, peak %.1f MB of rows in the kernel, %llu files "
				"failed, %llu mappings dropped\n",
			(unsigned long long)ku.installs, (double)ku.peak_rows * 16 / 1e6,
			(unsigned long long)ku.files_failed, (unsigned long long)ku.mappings_dropped);
	if (log_verbosity() >= 2)
		fprintf(stderr, "bpfspy: BPF: %llu samples taken, %llu without a thread state, %llu walk errors, "
				"%llu code objects captured (%llu lost, %llu undecodable); %llu frames not named; "
				"%llu process events lost\n",
			(unsigned long long)st.samples, (unsigned long long)st.py_no_tstate,
			(unsigned long long)st.py_errors, (unsigned long long)st.code_captured,
			(unsigned long long)st.code_lost, (unsigned long long)rs.code_captures_unusable,
			(unsigned long long)rs.py_unresolved_frames, (unsigned long long)st.events_lost);
	if (rs.gil_dropped)
		fprintf(stderr, "bpfspy: --gil dropped %llu samples of threads not holding the GIL\n",
			(unsigned long long)rs.gil_dropped);
	if (path)
		fprintf(stderr, "bpfspy: wrote %s (%s)%s\n", path, format,
			strcmp(format, "speedscope") == 0 ? "; open it at https://www.speedscope.app" : "");
}

static int start_targets(struct session *s, char *err, size_t errlen)
{
	const struct record_options *o = s->o;
	struct follow_ctx fc = { s->sampler, s->recorder, o };

	if (o->ncommand > 0) {
		if (launch_prepare(o->command, &s->child, err, errlen) != 0)
			return -1;
		s->launched = true;
		sampler_follow(s->sampler, s->child.pid);
		recorder_preload_command(s->recorder, o->command[0]);
	}
	for (size_t i = 0; i < o->npids; i++) {
		sampler_follow(s->sampler, o->pids[i]);
		recorder_add_process(s->recorder, o->pids[i]);
		if (o->verbosity > 0)
			recorder_note_if_not_python(s->recorder, o->pids[i]);
	}
	if (o->npids && o->subprocesses)
		for_each_pid(follow_existing_descendant, &fc);
	if (o->all)
		for_each_pid(prescan_process, &fc);

	/*
	 * The profile's clock starts when sampling starts, not when bpfspy did:
	 * loading BPF takes 50-250 ms that belong to no sample (-d 1 was
	 * reported as 1.06-1.24 s).
	 */
	struct profile_meta *meta = profile_meta(s->profile);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	meta->start_ns = s->start_ns = monotonic_ns();
	meta->start_realtime_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	if (sampler_attach(s->sampler, err, errlen) != 0)
		return -1;
	/* a thread that waits all along never leaves a CPU while we look: read it as it is now */
	if (o->idle && (o->npids || o->all) && recorder_seed_offcpu(s->recorder, err, errlen) < 0)
		log_warn("%s: threads blocked since before the attach are missing", err);
	if (s->launched && launch_release(&s->child, err, errlen) != 0) {
		reap_child(s, true);
		return -1;
	}
	return 0;
}

static bool wait_child_ms(struct session *s, int ms)
{
	for (int waited = 0; !s->child_done && waited < ms; waited += 20) {
		reap_child(s, false);
		if (!s->child_done)
			usleep(20 * 1000);
	}
	return s->child_done;
}

/*
 * A launched command still running when the recording ends (-d reached, or
 * bpfspy was signalled) is ended as py-spy does: SIGINT, SIGTERM after a
 * grace period, then SIGKILL. Targets given with -p are never signalled.
 */
static void end_launched_command(struct session *s)
{
	static const int ladder[] = { SIGINT, SIGTERM, SIGKILL };
	reap_child(s, false);
	for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]) && !s->child_done; i++) {
		kill(s->child.pid, ladder[i]);
		if (ladder[i] == SIGKILL)
			reap_child(s, true);
		else
			wait_child_ms(s, END_COMMAND_GRACE_MS);
	}
}

/* Every requested format, even after one failed; returns 0 if all were written. */
static int write_profiles(const struct profile *p, const struct record_options *o, char **paths)
{
	int rc = 0;
	struct write_options wo = { .include_thread_ids = o->threads };

	for (size_t i = 0; i < o->nformats; i++)
		if (write_profile(p, o->formats[i], &wo, paths[i]) != 0)
			rc = -1;
	return rc;
}

/*
 * Stack bytes BPF copies when the kernel unwinder meets code mapped since
 * its table was installed: a module being imported, for a few milliseconds.
 * Rare, and deep in an import chain, so it copies all it can.
 */
static unsigned new_code_snapshot_bytes(const struct record_options *o)
{
	return o->native && !o->unwind_snapshot && !o->unwind_compare ? BPFSPY_MAX_STACK_SNAPSHOT : 0;
}

static int run(struct session *s, char **paths)
{
	const struct record_options *o = s->o;
	char err[512];
	struct sampler_options so = {
		.rate_hz = o->rate_hz,
		.follow_all = o->all,
		.follow_children = o->subprocesses,
		.kernel_stacks = o->kernel,
		.py_max_depth = o->max_depth,
		/* default mode copies a stack only for a process whose tables are not installed yet
		   (its first milliseconds): frame pointers would give the leaf alone */
		.stack_snapshot_bytes = o->native || !o->unwind_snapshot ? o->stack_size : 0,
		.native_merge = o->native,
		.new_code_snapshot_bytes = new_code_snapshot_bytes(o),
		.offcpu = o->idle,
		.kernel_unwind = !o->unwind_snapshot,
		.unwind_compare = o->unwind_compare && o->native,
		.native_max_frames = o->max_native_frames,
		.btf_path = o->btf_path,
	};
	if (sampler_open(&so, recorder_on_record, s->recorder, &s->sampler, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	recorder_set_sampler(s->recorder, s->sampler);
	if (start_targets(s, err, sizeof(err)) != 0) {
		log_error("%s", err);
		if (s->launched && !s->child_done)
			launch_abort(&s->child);
		return s->launched ? 127 : 1;
	}
	record_loop(s);
	profile_meta(s->profile)->end_ns = monotonic_ns();
	recorder_finish(s->recorder, profile_meta(s->profile)->end_ns);

	int rc = write_profiles(s->profile, o, paths) == 0 ? 0 : 1;
	if (o->verbosity > 0) {
		print_summary(s, rc == 0 ? paths[0] : NULL, output_format_name(o->formats[0]));
		for (size_t i = 1; rc == 0 && i < o->nformats; i++)
			fprintf(stderr, "bpfspy: wrote %s (%s)\n", paths[i], output_format_name(o->formats[i]));
	}
	if (s->launched) {
		end_launched_command(s);
		if (rc == 0)
			rc = launch_exit_code(s->child_status);
	} else if (rc == 0 && stop_signal && stop_signal != SIGINT) {
		rc = 128 + stop_signal; /* say why: a -p/-a recording ended by kill, hang-up or quit */
	}
	return rc;
}

static void free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
}

int cmd_record(int argc, char **argv)
{
	struct record_options o;
	int e = record_options_parse(argc, argv, &o);
	if (e != 0)
		return e > 0 ? 0 : 2;
	log_set_verbosity(o.verbosity);

	char err[512];
	if (sampler_check_privileges(err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	for (size_t i = 0; i < o.npids; i++)
		if (proc_check_target(&o.pids[i]) != 0)
			return 1;

	char resolved[4096];
	if (o.ncommand > 0 && !launch_resolve_path(o.command[0], resolved, sizeof(resolved))) {
		launch_explain_not_found(o.command[0], err, sizeof(err));
		log_error("%s", err);
		return 127; /* the shell's status for a command not found */
	}

	char *base = o.output ? strdup(o.output) : default_output_name(&o);
	char *paths[OUTPUT_FORMAT_COUNT] = { 0 };
	if (!base || record_output_paths(&o, base, paths) != 0) {
		log_error("out of memory");
		free(base);
		return 1;
	}
	free(base);
	for (size_t i = 0; i < o.nformats; i++)
		if (output_path_check(paths[i], err, sizeof(err)) != 0) {
			log_error("%s", err);
			free_paths(paths, o.nformats);
			return 1;
		}

	char command[1024];
	describe_command(&o, command, sizeof(command));
	struct profile_meta meta = {
		.command = command,
		.rate_hz = o.rate_hz,
		.unit = o.idle ? PROFILE_UNIT_NANOSECONDS : PROFILE_UNIT_SAMPLES,
		.start_ns = monotonic_ns(), /* both set again when sampling starts */
		.start_realtime_ns = (uint64_t)time(NULL) * 1000000000ull,
	};
	struct session s = { .o = &o, .child = { .go_fd = -1, .status_fd = -1 } };
	s.profile = profile_new(&meta);
	struct recorder_options ro = {
		.kernel_stacks = o.kernel,
		.function_only = o.function_only,
		.no_lineno = o.no_lineno,
		.gil_only = o.gil,
		.idle = o.idle,
		.async_aware = o.async_aware,
		.rate_hz = o.rate_hz,
		.py_max_depth = o.max_depth,
		.stack_bytes = o.stack_size,
		.comm_filter = o.comm,
		.pid_filter = o.pid_filter,
		.npid_filter = o.npid_filter,
		.native = o.native,
		.native_all = o.native_all,
		.kernel_unwind = !o.unwind_snapshot,
	};
	s.recorder = s.profile ? recorder_new(&ro, s.profile) : NULL;
	if (!s.recorder) {
		log_error("out of memory");
		profile_free(s.profile);
		free_paths(paths, o.nformats);
		return 1;
	}
	install_signal_handlers();
	int rc = run(&s, paths);

	sampler_close(s.sampler);
	recorder_free(s.recorder);
	profile_free(s.profile);
	free_paths(paths, o.nformats);
	return rc;
}
