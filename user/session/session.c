// SPDX-License-Identifier: MIT
#include "session/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpfspy_events.h"
#include "session/launch.h"
#include "process/target_process.h"
#include "util/log.h"
#include "util/proc_stat.h"
#include "util/procfs.h"

#define END_COMMAND_GRACE_MS 2000 /* after SIGINT, then after SIGTERM, before the next signal */

struct session {
	struct session_options o;
	struct profile *profile;
	struct recorder *recorder;
	struct sampler *sampler;
	struct launched child;
	bool launched, child_done;
	int child_status;
	uint64_t start_ns;
	int *exit_fds;          /* a pidfd per -p PID: the wait wakes when one exits */
	bool poll_target_state; /* some PID has no pidfd (kernel < 5.3): read /proc at every wake */
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* A launched command's exit interrupts the wait: the session ends at once, not at the next timer. */
static void on_child_signal(int sig)
{
	(void)sig;
}

/*
 * Every signal that would end bpfspy ends the session instead, and the
 * command keeps what was sampled: a hang-up of the terminal or SSH session
 * (SIGHUP), Ctrl-\ (SIGQUIT), Ctrl-C, kill. SIGPIPE (output to a closed
 * pipe) is ignored: the write fails and the session goes on. Only SIGKILL
 * loses data.
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

int session_signal(void)
{
	return stop_signal;
}

/* ---- checks ------------------------------------------------------------- */

int session_check_targets(pid_t *pids, size_t npids)
{
	char err[512];
	if (sampler_check_privileges(err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	for (size_t i = 0; i < npids; i++)
		if (proc_check_target(&pids[i]) != 0)
			return 1;
	return 0;
}

int session_check(pid_t *pids, size_t npids, char *const *command, int ncommand)
{
	int rc = session_check_targets(pids, npids);
	if (rc != 0)
		return rc;
	char resolved[4096], err[512];
	if (ncommand > 0 && !launch_resolve_path(command[0], resolved, sizeof(resolved))) {
		launch_explain_not_found(command[0], err, sizeof(err));
		log_error("%s", err);
		return 127; /* the shell's status for a command not found */
	}
	return 0;
}

/* ---- the sampler -------------------------------------------------------- */

static int on_record(void *ctx, const void *data, size_t size)
{
	struct session *s = ctx;
	if (s->o.on_sample_record && size >= sizeof(struct bpfspy_sample) && *(const __u32 *)data == EV_SAMPLE)
		s->o.on_sample_record(s->o.on_sample_record_ctx, data);
	return recorder_on_record(s->recorder, data, size);
}

/*
 * Stack bytes BPF copies when the kernel unwinder meets code mapped since
 * its table was installed: a module being imported, for a few milliseconds.
 * Rare, and deep in an import chain, so it copies all it can.
 */
static unsigned new_code_snapshot_bytes(const struct session_options *o)
{
	return o->target.native && !o->unwind_snapshot && !o->unwind_compare ? BPFSPY_MAX_STACK_SNAPSHOT : 0;
}

static int open_sampler(struct session *s, char *err, size_t errlen)
{
	const struct session_options *o = &s->o;
	struct sampler_options so = {
		.rate_hz = o->target.rate_hz,
		.follow_all = o->target.all,
		.follow_children = o->target.subprocesses,
		.kernel_stacks = o->kernel,
		.py_max_depth = o->max_depth,
		/* default mode copies a stack only for a process whose tables are not installed yet
		   (its first milliseconds): frame pointers would give the leaf alone */
		.stack_snapshot_bytes = o->target.native || !o->unwind_snapshot ? o->stack_size : 0,
		.native_merge = o->target.native,
		.new_code_snapshot_bytes = new_code_snapshot_bytes(o),
		.offcpu = o->target.idle,
		.kernel_unwind = !o->unwind_snapshot,
		.unwind_compare = o->unwind_compare && o->target.native,
		.native_max_frames = o->max_native_frames,
		.btf_path = o->btf_path,
	};
	return sampler_open(&so, on_record, s, &s->sampler, err, errlen);
}

struct session *session_new(const struct session_options *o, const struct profile_meta *meta)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory");
		return NULL;
	}
	s->o = *o;
	s->child = (struct launched){ .go_fd = -1, .status_fd = -1 };
	struct recorder_options ro = o->recording;
	ro.kernel_stacks = o->kernel;
	ro.idle = o->target.idle;
	ro.native = o->target.native;
	ro.kernel_unwind = !o->unwind_snapshot;
	ro.rate_hz = o->target.rate_hz;
	ro.py_max_depth = o->max_depth;
	ro.stack_bytes = o->stack_size;
	ro.sink = o->sink;
	s->profile = profile_new(meta);
	s->recorder = s->profile ? recorder_new(&ro, s->profile) : NULL;
	if (!s->recorder) {
		log_error("out of memory");
		session_free(s);
		return NULL;
	}
	install_signal_handlers();
	char err[512];
	if (open_sampler(s, err, sizeof(err)) != 0) {
		log_error("%s", err);
		session_free(s);
		return NULL;
	}
	recorder_set_sampler(s->recorder, s->sampler);
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	sampler_close(s->sampler);
	for (size_t i = 0; s->exit_fds && i < s->o.target.npids; i++)
		if (s->exit_fds[i] >= 0)
			close(s->exit_fds[i]);
	free(s->exit_fds);
	recorder_free(s->recorder);
	profile_free(s->profile);
	free(s);
}

struct profile *session_profile(struct session *s)
{
	return s->profile;
}

struct recorder *session_recorder(struct session *s)
{
	return s->recorder;
}

struct sampler *session_sampler(struct session *s)
{
	return s->sampler;
}

uint64_t session_start_ns(const struct session *s)
{
	return s->start_ns;
}

pid_t session_root_pid(const struct session *s)
{
	if (s->launched)
		return s->child.pid;
	return s->o.target.npids ? s->o.target.pids[0] : 0;
}

bool session_launched(const struct session *s)
{
	return s->launched;
}

int session_command_exit_code(const struct session *s)
{
	return s->launched && s->child_done ? launch_exit_code(s->child_status) : -1;
}

/* ---- targets ------------------------------------------------------------ */

static void reap_child(struct session *s, bool block)
{
	if (!s->launched || s->child_done)
		return;
	int st;
	if (waitpid(s->child.pid, &st, block ? 0 : WNOHANG) == s->child.pid) {
		s->child_done = true;
		s->child_status = st;
	}
}

/*
 * -p PIDs end the session when they have all exited. Each has a pidfd in
 * the sampler's wait set, so /proc is read only after one of them exited,
 * not at every wake (5 times a second at rest).
 */
static void watch_target_exits(struct session *s)
{
	const struct session_options *o = &s->o;

	s->exit_fds = malloc(o->target.npids * sizeof(*s->exit_fds));
	for (size_t i = 0; i < o->target.npids; i++) {
		int fd = s->exit_fds ? (int)syscall(SYS_pidfd_open, o->target.pids[i], 0) : -1;

		if (fd >= 0 && sampler_wake_on_fd(s->sampler, fd) != 0) {
			close(fd);
			fd = -1;
		}
		if (s->exit_fds)
			s->exit_fds[i] = fd;
		s->poll_target_state |= fd < 0;
	}
}

/* One rule for every command: a zombie has exited, only its parent's wait is missing. */
static bool targets_alive(const struct session_options *o)
{
	for (size_t i = 0; i < o->target.npids; i++)
		if (proc_is_alive(o->target.pids[i]))
			return true;
	return false;
}

#define MAX_EXISTING_DESCENDANTS BPFSPY_MAX_FOLLOWED /* as many as BPF follows */

/* The targets' processes that exist already: BPF follows the ones forked from now on. */
static void follow_existing_descendants(struct session *s)
{
	pid_t *found = malloc(MAX_EXISTING_DESCENDANTS * sizeof(*found));
	for (size_t i = 0; found && i < s->o.target.npids; i++) {
		size_t n = proc_list_descendants(s->o.target.pids[i], found, MAX_EXISTING_DESCENDANTS);
		for (size_t j = 0; j < n; j++) {
			sampler_follow(s->sampler, found[j]);
			recorder_add_process(s->recorder, found[j]);
		}
	}
	free(found);
}

static int prescan_process(void *ctx, pid_t pid)
{
	struct session *s = ctx;
	if (pid != getpid() && !proc_is_kernel_thread(pid))
		recorder_add_process(s->recorder, pid);
	return 0;
}

/* The command must not write over a full-screen view or read its keys: its stdio goes to /dev/null. */
static int launch_command(struct session *s, char *err, size_t errlen)
{
	int saved[3] = { -1, -1, -1 }, null = -1;
	if (s->o.command_stdio_null) {
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd < 3 && null >= 0; fd++) {
			saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			dup2(null, fd);
		}
	}
	int rc = launch_prepare(s->o.target.command, &s->child, err, errlen);
	for (int fd = 0; fd < 3; fd++)
		if (saved[fd] >= 0) {
			dup2(saved[fd], fd);
			close(saved[fd]);
		}
	if (null >= 0)
		close(null);
	return rc;
}

static int start_targets(struct session *s, char *err, size_t errlen)
{
	const struct session_options *o = &s->o;
	if (o->target.ncommand > 0) {
		if (launch_command(s, err, errlen) != 0)
			return -1;
		s->launched = true;
		sampler_follow(s->sampler, s->child.pid);
		char program[4096]; /* found as execvp finds it */
		if (launch_resolve_path(o->target.command[0], program, sizeof(program)))
			recorder_preload_program(s->recorder, program);
	}
	if (o->target.npids)
		watch_target_exits(s);
	for (size_t i = 0; i < o->target.npids; i++) {
		sampler_follow(s->sampler, o->target.pids[i]);
		recorder_add_process(s->recorder, o->target.pids[i]);
		if (o->note_not_python)
			recorder_note_if_not_python(s->recorder, o->target.pids[i]);
	}
	if (o->target.npids && o->target.subprocesses)
		follow_existing_descendants(s);
	if (o->target.all)
		procfs_for_each_pid(prescan_process, s);

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
	char seed_err[256];
	if (o->target.idle && (o->target.npids || o->target.all) && recorder_seed_offcpu(s->recorder, seed_err, sizeof(seed_err)) < 0)
		log_warn("%s: threads blocked since before the attach are missing", seed_err);
	if (s->launched && launch_release(&s->child, err, errlen) != 0) {
		reap_child(s, true);
		return -1;
	}
	return 0;
}

int session_start(struct session *s)
{
	char err[512];
	if (start_targets(s, err, sizeof(err)) == 0)
		return 0;
	log_error("%s", err);
	if (s->launched && !s->child_done)
		launch_abort(&s->child);
	return s->launched ? 127 : 1;
}

/* ---- the loop ----------------------------------------------------------- */

/*
 * How long the loop may sleep: the command's longest wait, or less when
 * the duration, the command's period or the Ctrl-C grace ends sooner.
 * Samples are queued in BPF without wake-ups; BPF wakes the loop when 1 MiB
 * is queued, process events wake it at once, and signals (SIGCHLD
 * included) interrupt the wait.
 */
static int next_wait_ms(const struct session_hooks *h, uint64_t next_period, uint64_t deadline, uint64_t stop_at)
{
	uint64_t now = monotonic_ns(), wait = (uint64_t)(h->wait_ms ? h->wait_ms(h->ctx) : h->max_wait_ms) * 1000000ull;
	uint64_t ends[] = { deadline, h->period_ns ? next_period : 0, stop_at };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (ends[i] && (ends[i] <= now ? 0 : ends[i] - now) < wait)
			wait = ends[i] <= now ? 0 : ends[i] - now;
	if (stop_signal && !stop_at)
		wait = 0;
	return (int)((wait + 999999) / 1000000);
}

/* A signal ends the session, unless it is Ctrl-C, which gives a launched command the grace to finish first. */
static bool signal_ends_now(const struct session *s, uint64_t now, uint64_t *stop_at)
{
	if (!s->launched || stop_signal != SIGINT || !s->o.sigint_grace_ns)
		return true;
	if (!*stop_at)
		*stop_at = now + s->o.sigint_grace_ns;
	return now >= *stop_at;
}

enum session_end session_run(struct session *s, const struct session_hooks *h)
{
	const struct session_options *o = &s->o;
	uint64_t deadline = o->duration_s > 0 ? s->start_ns + (uint64_t)(o->duration_s * 1e9) : 0;
	uint64_t next_period = s->start_ns + h->period_ns, stop_at = 0;
	enum session_end end;

	for (;;) {
		/* unwind tables wait for a pause in the records, one process at a time */
		size_t tables_waiting = recorder_install_queued_tables(s->recorder, 1);
		int n = sampler_poll(s->sampler, tables_waiting ? 0 : next_wait_ms(h, next_period, deadline, stop_at));
		recorder_process_records(s->recorder);
		if (n < 0 && n != -EINTR) {
			log_error("reading samples failed: %s", strerror(-n));
			end = SESSION_FAILED;
			break;
		}
		uint64_t now = monotonic_ns();
		if (stop_signal && signal_ends_now(s, now, &stop_at)) {
			end = SESSION_SIGNALLED;
			break;
		}
		reap_child(s, false);
		bool target_exited = sampler_take_fd_ready(s->sampler) || s->poll_target_state;
		if (s->child_done || (o->target.npids && target_exited && !targets_alive(o))) {
			end = SESSION_TARGETS_EXITED;
			break;
		}
		if (deadline && now >= deadline) {
			end = SESSION_DURATION;
			break;
		}
		if (h->on_wake && h->on_wake(h->ctx)) {
			end = SESSION_QUIT;
			break;
		}
		if (h->period_ns && now >= next_period) {
			h->on_period(h->ctx);
			next_period = next_period + h->period_ns > now ? next_period + h->period_ns : now + h->period_ns;
		}
	}
	/* whatever is still queued belongs to the profile */
	while (sampler_poll(s->sampler, 0) > 0)
		recorder_process_records(s->recorder);
	recorder_process_records(s->recorder);
	return end;
}

void session_finish(struct session *s)
{
	struct profile_meta *meta = profile_meta(s->profile);
	meta->end_ns = monotonic_ns();
	recorder_finish(s->recorder, meta->end_ns);
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

void session_end_command(struct session *s)
{
	static const int ladder[] = { SIGINT, SIGTERM, SIGKILL };
	reap_child(s, false);
	for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]) && s->launched && !s->child_done; i++) {
		kill(s->child.pid, ladder[i]);
		if (ladder[i] == SIGKILL)
			reap_child(s, true);
		else
			wait_child_ms(s, END_COMMAND_GRACE_MS);
	}
}
