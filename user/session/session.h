/* SPDX-License-Identifier: MIT */
/*
 * A profiling session, as `record` and `top` both run it: the sampler opened
 * with one set of rules, the targets started or attached (a launched command,
 * -p PIDs, -a), the poll loop (records drained, unwind tables installed
 * between batches, --duration), the launched command reaped and attached
 * targets watched (a zombie counts as exited, as everywhere in bpfspy), and
 * every terminating signal turned into a normal end, so what was sampled so
 * far is kept. Samples reach the command through its sample sink; the
 * command draws or writes them.
 *
 * Lifetime: session_check (before anything else), session_new,
 * session_start, session_run, session_finish, session_end_command (if a
 * command was launched and may still run), session_free.
 */
#ifndef BPFSPY_SESSION_H
#define BPFSPY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampler/sampler.h"
#include "profile/profile.h"
#include "recorder/recorder.h"
#include "session/session_args.h"
#include "recorder/sample_sink.h"

struct session_options {
	/* targets (a command, PIDs, or the whole host), following, rate, -g/-n/-i */
	struct session_args target;

	/* sampling, as record's options name them (top passes record's defaults) */
	bool kernel;          /* --kernel */
	bool native;          /* -n */
	bool idle;            /* -i: off-CPU time too */
	unsigned max_depth;   /* Python frames per stack */
	unsigned stack_size;  /* user stack bytes copied where the kernel has no unwind table */
	unsigned max_native_frames;
	bool unwind_snapshot; /* --unwind snapshot */
	bool unwind_compare;  /* --unwind compare */
	const char *btf_path; /* --btf, or NULL */

	double duration_s;    /* > 0: the session ends after this long */
	/*
	 * Ctrl-C reaches a launched command too (same process group): wait this
	 * long for it to finish before ending the session (record, as py-spy);
	 * 0 ends at once (top: Ctrl-C quits).
	 */
	uint64_t sigint_grace_ns;
	bool command_stdio_null; /* the launched command's stdin/out/err on /dev/null (top's full screen) */
	bool note_not_python;    /* say once when a -p target is not Python */

	/*
	 * What only the command decides of the recording: --gil, -F,
	 * --nolineno, --comm, --pid-filter, --native-all. The session sets
	 * the rest (sampling options above, sink).
	 */
	struct recorder_options recording;
	struct sample_sink sink; /* none set: samples are kept in the profile */
	/* Every sample record BPF delivers, before the recorder filters it (top's live counters); may be NULL. */
	void (*on_sample_record)(void *ctx, const struct bpfspy_sample *s);
	void *on_sample_record_ctx;
};

/* Why session_run returned. */
enum session_end {
	SESSION_TARGETS_EXITED, /* the command exited, or every -p target exited or became a zombie */
	SESSION_DURATION,       /* --duration reached */
	SESSION_SIGNALLED,      /* a terminating signal: session_signal() says which */
	SESSION_QUIT,           /* the command's on_wake asked to stop (top's q) */
	SESSION_FAILED          /* reading samples failed (logged) */
};

/* The command's part of the loop. */
struct session_hooks {
	void *ctx;
	uint64_t period_ns;           /* 0: no on_period */
	void (*on_period)(void *ctx); /* every period_ns from the start: record's status line, top's refresh */
	bool (*on_wake)(void *ctx);   /* after every poll; true ends the session (SESSION_QUIT) */
	int max_wait_ms;              /* the longest the loop sleeps between polls */
	int (*wait_ms)(void *ctx);    /* if set: max_wait_ms, asked again at every wake */
};

struct session;

/*
 * Before anything is loaded: the privileges BPF needs and every PID the
 * user named (a thread id is replaced by its process's, in place). One
 * error line; returns 0, or the exit code (1).
 */
int session_check_targets(pid_t *pids, size_t npids);
/* session_check_targets, then the command to launch is found (else 127, as a shell). */
int session_check(pid_t *pids, size_t npids, char *const *command, int ncommand);

/*
 * Opens the sampler and the recorder (into a new profile described by
 * meta) and takes over the terminating signals. Returns NULL after one
 * error line.
 */
struct session *session_new(const struct session_options *o, const struct profile_meta *meta);
/*
 * Launches the command or attaches the PIDs and starts sampling; the
 * profile's clock starts now. Returns 0, or the exit code after one error
 * line (127 when the command could not be started).
 */
int session_start(struct session *s);
/* Polls until the session ends; everything still queued is drained into the sink before it returns. */
enum session_end session_run(struct session *s, const struct session_hooks *h);
/* Ends the recording now: the profile's end time, off-CPU intervals still open. */
void session_finish(struct session *s);
/*
 * A launched command still running is ended as py-spy does: SIGINT,
 * SIGTERM after a grace period, then SIGKILL. PIDs given with -p are never
 * signalled.
 */
void session_end_command(struct session *s);
void session_free(struct session *s);

struct profile *session_profile(struct session *s);
struct recorder *session_recorder(struct session *s);
struct sampler *session_sampler(struct session *s);
uint64_t session_start_ns(const struct session *s); /* CLOCK_MONOTONIC when sampling started */
/* The launched command's PID, else the first -p PID, else 0 (-a). */
pid_t session_root_pid(const struct session *s);
bool session_launched(const struct session *s);
/* After the command exited: its shell-style exit code (128+signal); -1 while it runs or without one. */
int session_command_exit_code(const struct session *s);
/* The terminating signal received, or 0. */
int session_signal(void);

#endif
