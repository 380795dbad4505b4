// SPDX-License-Identifier: MIT
#include "sampler/sampler.h"
#include "sampler/kernel_btf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sampler.skel.h"
#include "util/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct sampler {
	struct sampler_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **perf_links;
	int *perf_fds;
	int ncpus;
	sampler_record_fn fn;
	void *ctx;
	unsigned rate_hz;
	int npending;
	uint64_t switch_hook_ns; /* CLOCK_MONOTONIC right after sched_switch was attached (--idle) */
	int wait_fd;             /* epoll: the ring buffer's own epoll, and the fds of sampler_wake_on_fd */
	bool fd_ready;           /* one of those fds was ready since sampler_take_fd_ready */
};

/* epoll data of the wait set: the ring buffer, or one of the caller's fds */
enum { WAIT_RING_BUFFER = 0, WAIT_CALLER_FD = 1 };

/*
 * Ring buffer size: enough for ~100 ms of samples at the highest rate on
 * every CPU, as a power of two, at least 8 MB. The reader drains it when BPF
 * wakes it (a quarter full, at most 1 MiB queued) and at least every 200 ms
 * (20 ms with --async-aware). Its pages are allocated and mapped at load
 * (~1.5 ms of every start for 8 MB on the benchmark VM) and are resident in
 * bpfspy, so an oversized buffer costs for nothing.
 *
 * Samples the kernel unwound are small (a few KB at most; code objects seen
 * for the first time come once), so below 1 kHz the processes bpfspy was
 * pointed at get two seconds of 4 KB samples on every CPU instead: at least
 * 2 MB, at most the 4 MB a CPU they had. The whole host (-a) keeps the old
 * sizes (every new process there sends stack copies until its tables are
 * in), and so do snapshots (16 KiB per sample) and off-CPU records (one per
 * context switch, whatever the rate).
 */
static __u32 ring_buffer_bytes(int ncpus, unsigned rate_hz, bool host_wide, bool snapshots, bool offcpu)
{
	unsigned long long want, floor = 8u << 20;

	if (snapshots || offcpu) {
		/* --idle --native sends a stack snapshot at every context switch too */
		want = (unsigned long long)ncpus * (snapshots ? (16ull << 20) : (4ull << 20)) * (snapshots && offcpu ? 2 : 1);
	} else {
		want = (unsigned long long)ncpus * (4ull << 20);
		if (rate_hz < 1000 && !host_wide) {
			unsigned long long two_seconds = (unsigned long long)ncpus * rate_hz * (4ull << 10) * 2;
			want = two_seconds < want ? two_seconds : want;
			floor = 2u << 20;
		}
	}
	__u32 size = (__u32)floor;
	while (size < want && size < (256u << 20))
		size <<= 1;
	return size;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || log_verbosity() < 2)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void loader_set_libbpf_print(void)
{
	libbpf_set_print(libbpf_print);
}

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int sampler_check_privileges(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d) != 0) {
		snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
		return -1;
	}
	if (has_cap(d, CAP_SYS_ADMIN) || (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))
		return 0;
	if (geteuid() != 0)
		snprintf(err, errlen, "must run as root (needs CAP_BPF and CAP_PERFMON); try: sudo bpfspy ...");
	else
		snprintf(err, errlen, "running as root but without CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
				      "run with full root capabilities, e.g. sudo bpfspy ...");
	return -1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	return s->fn(s->ctx, data, size);
}

/*
 * A --btf file must be raw BTF or an ELF file (with a .BTF section): checked
 * here, non-blocking, so a FIFO or device cannot hang the load and garbage
 * gets a sentence instead of libbpf's "Unknown error 4001".
 */
static int check_btf_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	unsigned char magic[4] = { 0 };

	if (fd < 0) {
		snprintf(err, errlen, "cannot read --btf %s: %s", path, strerror(errno));
		return -1;
	}
	bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	ssize_t n = regular ? pread(fd, magic, sizeof(magic), 0) : 0;
	close(fd);
	if (!regular) {
		snprintf(err, errlen, "--btf %s is not a regular file", path);
		return -1;
	}
	bool raw_btf = n >= 2 && ((magic[0] == 0x9f && magic[1] == 0xeb) || (magic[0] == 0xeb && magic[1] == 0x9f));
	bool elf = n == 4 && !memcmp(magic, "\177ELF", 4);
	if (!raw_btf && !elf) {
		snprintf(err, errlen, "--btf %s is not a BTF file (expected raw BTF, like /sys/kernel/btf/vmlinux, "
				      "or an ELF file with a .BTF section)", path);
		return -1;
	}
	return 0;
}

/* Slots of the BPF caches (powers of two) without -a; -a keeps the sizes in maps.bpf.h. */
#define CODE_SEEN_TREE 65536   /* (process, code object) pairs already sent */
#define TSTATE_CACHE_TREE 4096 /* threads' thread states */

int sampler_open(const struct sampler_options *o, sampler_record_fn fn, void *ctx, struct sampler **out,
		 char *err, size_t errlen)
{
	const char *btf = o->btf_path ? o->btf_path : "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK) != 0) {
		snprintf(err, errlen, "kernel BTF not found at %s: bpfspy needs a kernel built with "
				      "CONFIG_DEBUG_INFO_BTF=y", btf);
		return -1;
	}
	if (o->btf_path && check_btf_file(o->btf_path, err, errlen) != 0)
		return -1;

	loader_set_libbpf_print();
	struct sampler *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->wait_fd = -1;
	s->fn = fn;
	s->ctx = ctx;
	s->rate_hz = o->rate_hz;

	/* the kernel types the programs use, when the build cut them from this kernel's BTF */
	char min_btf[64];
	int min_btf_fd = o->btf_path ? -1 : kernel_btf_min_open(min_btf, sizeof(min_btf));
	log_debug("kernel types from %s", o->btf_path ? o->btf_path
					 : min_btf_fd >= 0 ? "the minimal BTF built for this kernel"
							   : "/sys/kernel/btf/vmlinux (bpfspy was built on another kernel)");
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = min_btf_fd >= 0 ? min_btf : o->btf_path);
	s->skel = sampler_bpf__open_opts(&open_opts);
	if (!s->skel) {
		snprintf(err, errlen, "cannot open BPF object: %s", strerror(errno));
		goto fail;
	}
	s->skel->rodata->follow_all = o->follow_all;
	s->skel->rodata->follow_children = o->follow_children;
	s->skel->rodata->collect_kernel = o->kernel_stacks;
	s->skel->rodata->py_max_depth = o->py_max_depth;
	s->skel->rodata->self_tgid = (__u32)getpid();
	s->skel->rodata->stack_snapshot_bytes = o->stack_snapshot_bytes;
	s->skel->rodata->new_code_snapshot_bytes = o->new_code_snapshot_bytes;
	s->skel->rodata->native_merge = o->native_merge;
	s->skel->rodata->offcpu = o->offcpu;
	s->skel->rodata->kernel_unwind = o->kernel_unwind;
	s->skel->rodata->unwind_compare = o->unwind_compare;
	if (o->native_max_frames)
		s->skel->rodata->native_max_frames = o->native_max_frames;
	/*
	 * The scheduler hook runs on every context switch of the host: only when
	 * asked for. Not even loaded otherwise: as a tp_btf program it would make
	 * libbpf parse the kernel's whole BTF.
	 */
	bpf_program__set_autoload(s->skel->progs.on_switch, o->offcpu);
	/* run on demand (sampler_seed_offcpu), never attached with the rest */
	bpf_program__set_autoload(s->skel->progs.seed_offcpu, o->offcpu);
	bpf_program__set_autoattach(s->skel->progs.seed_offcpu, false);
	/* the host-wide cache sizes only for -a: following a process tree needs fewer slots */
	if (!o->follow_all) {
		s->skel->rodata->code_seen_mask = CODE_SEEN_TREE - 1;
		s->skel->rodata->tstate_cache_mask = TSTATE_CACHE_TREE - 1;
		if (bpf_map__set_max_entries(s->skel->maps.code_seen, CODE_SEEN_TREE) != 0 ||
		    bpf_map__set_max_entries(s->skel->maps.tstate_cache, TSTATE_CACHE_TREE) != 0) {
			snprintf(err, errlen, "cannot size the BPF caches");
			goto fail;
		}
	}
	/*
	 * A hash map's buckets are allocated and zeroed at load even when its
	 * entries are not (~1.4 ms for 65536): one entry for a map that mode
	 * never fills. -a follows everything without looking it up.
	 */
	if ((o->follow_all && bpf_map__set_max_entries(s->skel->maps.followed, 1) != 0) ||
	    (!o->offcpu && bpf_map__set_max_entries(s->skel->maps.offcpu_since, 1) != 0)) {
		snprintf(err, errlen, "cannot size the BPF maps");
		goto fail;
	}
	int ncpus = libbpf_num_possible_cpus();
	__u32 ring_size = ncpus <= 0 ? 0
				     : ring_buffer_bytes(ncpus, o->rate_hz, o->follow_all,
							 o->stack_snapshot_bytes > 0 && (!o->kernel_unwind || o->unwind_compare),
							 o->offcpu);
	if (ncpus <= 0 || bpf_map__set_max_entries(s->skel->maps.scratch, 2 * (__u32)ncpus) != 0 ||
	    bpf_map__set_max_entries(s->skel->maps.events, ring_size) != 0) {
		snprintf(err, errlen, "cannot size the per-CPU sample buffers");
		goto fail;
	}
	/* wake the reader with room to spare: a quarter of the ring, at most 1 MB */
	s->skel->rodata->wakeup_bytes = ring_size / 4 < (1u << 20) ? ring_size / 4 : (1u << 20);

	int e = sampler_bpf__load(s->skel);
	if (min_btf_fd >= 0)
		close(min_btf_fd);
	min_btf_fd = -1;
	if (e) {
		char reason[128];
		libbpf_strerror(e, reason, sizeof(reason));
		snprintf(err, errlen, "cannot load BPF programs: %s%s (run with -v for the verifier log)", reason,
			 o->btf_path ? " (is --btf the BTF of the running kernel?)" : "");
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "cannot create ring buffer: %s", strerror(errno));
		goto fail;
	}
	/* libbpf's epoll reads every event's data as a ring index: the caller's fds wait in an epoll around it */
	struct epoll_event ring_ready = { .events = EPOLLIN, .data.u32 = WAIT_RING_BUFFER };
	s->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->wait_fd < 0 || epoll_ctl(s->wait_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(s->rb), &ring_ready) != 0) {
		snprintf(err, errlen, "cannot create the wait set: %s", strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (min_btf_fd >= 0)
		close(min_btf_fd);
	sampler_close(s);
	return -1;
}

static int open_cpu_clock(int cpu, unsigned rate_hz)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		/* a fixed period, not freq mode: every tick weighs exactly 1/rate s of CPU */
		.sample_period = 1000000000ull / rate_hz,
		.disabled = 0,
	};
	return (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int sampler_attach(struct sampler *s, char *err, size_t errlen)
{
	int e = sampler_bpf__attach(s->skel); /* tracepoints; the perf_event program is skipped */
	if (e) {
		snprintf(err, errlen, "cannot attach process tracepoints: %s", strerror(-e));
		return -1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->switch_hook_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		snprintf(err, errlen, "cannot count CPUs");
		return -1;
	}
	s->perf_fds = calloc((size_t)s->ncpus, sizeof(int));
	s->perf_links = calloc((size_t)s->ncpus, sizeof(*s->perf_links));
	if (!s->perf_fds || !s->perf_links) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int attached = 0;
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		s->perf_fds[cpu] = open_cpu_clock(cpu, s->rate_hz);
		if (s->perf_fds[cpu] < 0) {
			if (errno == ENODEV) /* possible but offline CPU */
				continue;
			snprintf(err, errlen, "cannot open cpu-clock perf event on CPU %d: %s", cpu, strerror(errno));
			return -1;
		}
		s->perf_links[cpu] = bpf_program__attach_perf_event(s->skel->progs.sample_stack, s->perf_fds[cpu]);
		if (!s->perf_links[cpu]) {
			snprintf(err, errlen, "cannot attach sampler on CPU %d: %s", cpu, strerror(errno));
			return -1;
		}
		attached++;
	}
	if (!attached) {
		snprintf(err, errlen, "no online CPU accepted a perf event");
		return -1;
	}
	return 0;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		if (s->perf_links && s->perf_links[cpu])
			bpf_link__destroy(s->perf_links[cpu]);
		if (s->perf_fds && s->perf_fds[cpu] > 0)
			close(s->perf_fds[cpu]);
	}
	free(s->perf_links);
	free(s->perf_fds);
	if (s->wait_fd >= 0)
		close(s->wait_fd);
	ring_buffer__free(s->rb);
	sampler_bpf__destroy(s->skel);
	free(s);
}

int sampler_follow(struct sampler *s, pid_t pid)
{
	__u32 key = (__u32)pid;
	__u8 v = FOLLOW_YES;
	return bpf_map__update_elem(s->skel->maps.followed, &key, sizeof(key), &v, sizeof(v), BPF_ANY);
}

int sampler_unwind_files_fd(const struct sampler *s)
{
	return bpf_map__fd(s->skel->maps.unwind_files);
}

int sampler_unwind_procs_fd(const struct sampler *s)
{
	return bpf_map__fd(s->skel->maps.unwind_procs);
}

int sampler_set_python(struct sampler *s, pid_t pid, const struct py_proc *p)
{
	__u32 key = (__u32)pid;
	return bpf_map__update_elem(s->skel->maps.py_procs, &key, sizeof(key), p, sizeof(*p), BPF_ANY);
}

int sampler_set_pending(struct sampler *s, pid_t pid, bool pending)
{
	__u32 key = (__u32)pid;
	__u8 v = 1;
	int e;
	if (pending) {
		e = bpf_map__update_elem(s->skel->maps.py_pending, &key, sizeof(key), &v, sizeof(v), BPF_NOEXIST);
		if (e == 0)
			s->npending++;
	} else {
		e = bpf_map__delete_elem(s->skel->maps.py_pending, &key, sizeof(key), 0);
		if (e == 0 && s->npending > 0)
			s->npending--;
	}
	s->skel->bss->pending_py_procs = (__u32)s->npending;
	return e == -EEXIST || e == -ENOENT ? 0 : e;
}

int sampler_offcpu_since(struct sampler *s, pid_t tid, uint64_t *since_ns)
{
	__u32 key = (__u32)tid;
	__u64 v = 0;
	if (bpf_map__lookup_elem(s->skel->maps.offcpu_since, &key, sizeof(key), &v, sizeof(v), 0) != 0)
		return -1;
	*since_ns = v;
	return 0;
}

int sampler_seed_offcpu(struct sampler *s, sampler_seed_fn fn, void *ctx, char *err, size_t errlen)
{
	int count = 0, iter_fd = -1;
	size_t len = 0, cap = 64 << 10;
	char *buf = NULL;
	struct bpf_link *link = NULL;

	if (!s->switch_hook_ns || bpf_program__fd(s->skel->progs.seed_offcpu) < 0) {
		snprintf(err, errlen, "the off-CPU hook is not attached");
		return -1;
	}
	s->skel->bss->seed_since_ns = s->switch_hook_ns;
	link = bpf_program__attach_iter(s->skel->progs.seed_offcpu, NULL);
	if (!link) {
		snprintf(err, errlen, "cannot attach the task iterator: %s", strerror(errno));
		return -1;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	buf = malloc(cap);
	if (iter_fd < 0 || !buf) {
		snprintf(err, errlen, "cannot run the task iterator: %s", strerror(errno));
		count = -1;
		goto out;
	}
	for (;;) {
		if (cap - len < sizeof(struct bpfspy_offcpu_seed)) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				snprintf(err, errlen, "out of memory");
				count = -1;
				goto out;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(iter_fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read the task iterator: %s", strerror(errno));
			count = -1;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	/* records are the fixed part and n_kernel addresses */
	const size_t fixed = offsetof(struct bpfspy_offcpu_seed, kernel);
	for (size_t off = 0; off + fixed <= len;) {
		struct bpfspy_offcpu_seed e;
		memcpy(&e, buf + off, fixed);
		size_t n_kernel = e.n_kernel <= BPFSPY_MAX_KERNEL_FRAMES ? e.n_kernel : 0;
		if (off + fixed + 8 * n_kernel > len)
			break;
		memcpy(e.kernel, buf + off + fixed, 8 * n_kernel);
		e.n_kernel = (__u16)n_kernel;
		off += fixed + 8 * n_kernel;
		fn(ctx, &e);
		count++;
	}
out:
	free(buf);
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	return count;
}

int sampler_wake_on_fd(struct sampler *s, int fd)
{
	/* one-shot: a pidfd stays readable once its process exited, and the wait must not spin on it */
	struct epoll_event ready = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = WAIT_CALLER_FD };
	return epoll_ctl(s->wait_fd, EPOLL_CTL_ADD, fd, &ready) == 0 ? 0 : -errno;
}

bool sampler_take_fd_ready(struct sampler *s)
{
	bool ready = s->fd_ready;
	s->fd_ready = false;
	return ready;
}

int sampler_poll(struct sampler *s, int timeout_ms)
{
	struct epoll_event ev[4];
	int n = epoll_wait(s->wait_fd, ev, 4, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++)
		s->fd_ready |= ev[i].data.u32 == WAIT_CALLER_FD;
	/* samples are queued without wakeups: drain whatever is there */
	int m = ring_buffer__consume(s->rb);
	if (m < 0 && m != -EINTR)
		return m;
	return m > 0 ? m : 0;
}

static uint64_t sum_percpu_stat(struct sampler *s, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return 0;
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	uint64_t total = 0;
	if (!vals)
		return 0;
	if (bpf_map__lookup_elem(s->skel->maps.stats, &idx, sizeof(idx), vals, sizeof(__u64) * (size_t)ncpu, 0) == 0)
		for (int i = 0; i < ncpu; i++)
			total += vals[i];
	free(vals);
	return total;
}

void sampler_read_stats(struct sampler *s, struct sampler_stats *out)
{
	out->samples = sum_percpu_stat(s, STAT_SAMPLES);
	out->lost = sum_percpu_stat(s, STAT_LOST);
	out->events_lost = sum_percpu_stat(s, STAT_EVENTS_LOST);
	out->py_no_tstate = sum_percpu_stat(s, STAT_PY_NO_TSTATE);
	out->py_errors = sum_percpu_stat(s, STAT_PY_ERRORS);
	out->code_captured = sum_percpu_stat(s, STAT_CODE_CAPTURED);
	out->code_lost = sum_percpu_stat(s, STAT_CODE_LOST);
}
