// SPDX-License-Identifier: MIT
/* `bpfspy record`: a session whose samples all stay in the profile, written in every format asked for at the end. */
#include "cmd/record.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sampler/sampler.h"
#include "output/formats.h"
#include "output/output_file.h"
#include "profile/profile.h"
#include "cmd/record_options.h"
#include "recorder/recorder.h"
#include "native/kernel_unwind.h"
#include "session/session.h"
#include "process/target_process.h"
#include "util/invoking_user.h"
#include "util/log.h"

/* ---- output ------------------------------------------------------------- */

static char *default_output_name(const struct record_options *o)
{
	char stamp[32], name[64] = "all";
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (o->target.ncommand > 0) {
		const char *base = strrchr(o->target.command[0], '/');
		snprintf(name, sizeof(name), "%s", base ? base + 1 : o->target.command[0]);
	} else if (o->target.npids > 0) {
		snprintf(name, sizeof(name), "pid%d", o->target.pids[0]);
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
	if (o->target.all) {
		snprintf(buf, len, "all processes");
		return;
	}
	if (o->target.npids) {
		pos += (size_t)snprintf(buf, len, "pid");
		for (size_t i = 0; i < o->target.npids && pos < len; i++)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%d", i ? "," : " ", o->target.pids[i]);
		return;
	}
	for (int i = 0; i < o->target.ncommand && pos < len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? " " : "", o->target.command[i]);
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

/* ---- the recording --------------------------------------------------- */

/*
 * The loop's slow timer: everything but a full BPF queue, a process event
 * or a signal waits for it; a shorter one only costs wake-ups (the fixed
 * cost of a profiler attached to an idle or lightly loaded host: ~175 us a
 * wake-up on the benchmark VM). While a Python process uses threading,
 * records are handled within PROMPT_DRAIN_EVERY_MS: a thread's name is read
 * from the live process, and a short-lived thread must still be there.
 */
#define DRAIN_EVERY_MS 1000
#define PROMPT_DRAIN_EVERY_MS 200
/*
 * --async-aware reads a sample's awaiting tasks from the live process when
 * the sample is handled: the sooner, the fewer tasks have moved on (or
 * ended) since it was taken. 50 wake-ups a second, in that mode only.
 */
#define ASYNC_DRAIN_EVERY_MS 20
#define STATUS_EVERY_NS 500000000ull
#define SIGINT_GRACE_NS 2000000000ull /* after Ctrl-C, wait this long for a launched command to end */

static void print_status(void *ctx)
{
	struct session *s = ctx;
	struct sampler_stats st;
	struct recorder_stats rs;
	sampler_read_stats(session_sampler(s), &st);
	recorder_read_stats(session_recorder(s), &rs);
	double secs = (double)(monotonic_ns() - session_start_ns(s)) / 1e9;
	fprintf(stderr, "\r\033[Kbpfspy: %.1fs  %llu samples  %zu processes  %llu lost", secs,
		(unsigned long long)rs.samples, rs.processes, (unsigned long long)st.lost);
	fflush(stderr);
}

static void print_summary(struct session *s, const struct record_options *o, const char *path, const char *format)
{
	const struct profile *profile = session_profile(s);
	struct sampler_stats st;
	struct recorder_stats rs;
	sampler_read_stats(session_sampler(s), &st);
	recorder_read_stats(session_recorder(s), &rs);
	double secs = (double)(monotonic_ns() - session_start_ns(s)) / 1e9;
	uint64_t taken = rs.samples + st.lost;
	fprintf(stderr, "bpfspy: %llu samples from %zu process%s (%zu threads) in %.2fs; %llu lost (%.2f%%)\n",
		(unsigned long long)rs.samples, profile_process_count(profile),
		profile_process_count(profile) == 1 ? "" : "es", profile_thread_count(profile), secs,
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
	recorder_native_summary(session_recorder(s), native_line, sizeof(native_line));
	if (native_line[0])
		fprintf(stderr, "bpfspy: %s\n", native_line);
	if (!o->target.native && rs.native_only_samples)
		fprintf(stderr, "bpfspy: native stacks (no Python frames): %.1f%% of %llu samples reached the "
				"program's entry%s\n",
			100.0 * (double)rs.native_only_complete / (double)rs.native_only_samples,
			(unsigned long long)rs.native_only_samples,
			rs.native_only_complete < rs.native_only_samples
				? "; the rest began before bpfspy loaded their unwind tables or met code without CFI"
				: "");
	struct kernel_unwind_stats ku;
	recorder_read_unwind_stats(session_recorder(s), &ku);
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

static int drain_every_ms(void *ctx)
{
	return recorder_wants_prompt_handling(session_recorder(ctx)) ? PROMPT_DRAIN_EVERY_MS : DRAIN_EVERY_MS;
}

static int run(struct session *s, const struct record_options *o, char **paths)
{
	int rc = session_start(s);
	if (rc != 0)
		return rc;
	bool tty = isatty(STDERR_FILENO) && o->verbosity > 0 && !o->hide_progress;
	struct session_hooks h = { .ctx = s, .max_wait_ms = ASYNC_DRAIN_EVERY_MS };
	if (!o->async_aware)
		h.wait_ms = drain_every_ms;
	if (tty) {
		h.period_ns = STATUS_EVERY_NS;
		h.on_period = print_status;
	}
	enum session_end end = session_run(s, &h);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (end == SESSION_TARGETS_EXITED && !session_launched(s))
		log_info("the target process%s exited", o->target.npids > 1 ? "es" : "");
	session_finish(s);

	rc = write_profiles(session_profile(s), o, paths) == 0 ? 0 : 1;
	if (o->verbosity > 0) {
		print_summary(s, o, rc == 0 ? paths[0] : NULL, output_format_name(o->formats[0]));
		for (size_t i = 1; rc == 0 && i < o->nformats; i++)
			fprintf(stderr, "bpfspy: wrote %s (%s)\n", paths[i], output_format_name(o->formats[i]));
	}
	if (session_launched(s)) {
		session_end_command(s);
		if (rc == 0)
			rc = session_command_exit_code(s);
	} else if (rc == 0 && session_signal() && session_signal() != SIGINT) {
		rc = 128 + session_signal(); /* say why: a -p/-a recording ended by kill, hang-up or quit */
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

	int rc = session_check(o.target.pids, o.target.npids, o.target.command, o.target.ncommand);
	if (rc != 0)
		return rc;

	char *base = o.output ? strdup(o.output) : default_output_name(&o);
	char *paths[OUTPUT_FORMAT_COUNT] = { 0 };
	if (!base || record_output_paths(&o, base, paths) != 0) {
		log_error("out of memory");
		free(base);
		return 1;
	}
	free(base);
	char err[512];
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
		.rate_hz = o.target.rate_hz,
		.unit = o.target.idle ? PROFILE_UNIT_NANOSECONDS : PROFILE_UNIT_SAMPLES,
		.start_ns = monotonic_ns(), /* both set again when sampling starts */
		.start_realtime_ns = (uint64_t)time(NULL) * 1000000000ull,
	};
	struct session_options so = {
		.target = o.target,
		.kernel = o.kernel,
		.max_depth = o.max_depth,
		.stack_size = o.stack_size,
		.max_native_frames = o.max_native_frames,
		.unwind_snapshot = o.unwind_snapshot,
		.unwind_compare = o.unwind_compare,
		.btf_path = o.btf_path,
		.duration_s = o.duration_s,
		.sigint_grace_ns = SIGINT_GRACE_NS,
		.note_not_python = o.verbosity > 0,
		.recording = {
			.function_only = o.function_only,
			.no_lineno = o.no_lineno,
			.gil_only = o.target.gil,
			.comm_filter = o.comm,
			.pid_filter = o.pid_filter,
			.npid_filter = o.npid_filter,
			.native_all = o.native_all,
			.async_aware = o.async_aware,
		},
	};
	struct session *s = session_new(&so, &meta);
	if (!s) {
		free_paths(paths, o.nformats);
		return 1;
	}
	rc = run(s, &o, paths);
	session_free(s);
	free_paths(paths, o.nformats);
	return rc;
}
