// SPDX-License-Identifier: MIT
#include "dump/dump_fsbase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dump.skel.h"
#include "sampler/sampler.h"

/* Parses the iterator's "tid fsbase ip sp bp on_cpu" lines. */
static size_t parse_lines(char *text, struct thread_fsbase *out, size_t cap)
{
	size_t n = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
		unsigned tid, on_cpu = 1;
		unsigned long long fsbase, ip = 0, sp = 0, bp = 0;
		if (sscanf(line, "%u %llx %llx %llx %llx %u", &tid, &fsbase, &ip, &sp, &bp, &on_cpu) >= 2) {
			out[n] = (struct thread_fsbase){ .tid = (pid_t)tid, .fsbase = fsbase, .ip = ip, .sp = sp,
							 .bp = bp, .on_cpu = on_cpu != 0 };
			n++;
		}
	}
	return n;
}

static int read_all(int fd, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	for (;;) {
		if (cap - len < 256) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return -1;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

int dump_read_fsbases(pid_t pid, struct thread_fsbase *out, size_t cap, size_t *n, char *err, size_t errlen)
{
	struct dump_bpf *skel = NULL;
	struct bpf_link *link = NULL;
	char *text = NULL;
	int iter_fd = -1, rc = -1;

	*n = 0;
	loader_set_libbpf_print();
	skel = dump_bpf__open();
	if (!skel) {
		snprintf(err, errlen, "cannot open the thread iterator BPF object: %s", strerror(errno));
		return -1;
	}
	skel->rodata->target_tgid = (__u32)pid;
	int e = dump_bpf__load(skel);
	if (e) {
		snprintf(err, errlen, "cannot load the thread iterator: %s", strerror(-e));
		goto out;
	}
	/* Visit only pid's threads where the kernel supports it; the program filters anyway. */
	union bpf_iter_link_info info = { .task = { .pid = (__u32)pid } };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	link = bpf_program__attach_iter(skel->progs.list_thread_fsbase, &opts);
	if (!link)
		link = bpf_program__attach_iter(skel->progs.list_thread_fsbase, NULL);
	if (!link) {
		snprintf(err, errlen, "cannot attach the thread iterator: %s", strerror(errno));
		goto out;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0 || read_all(iter_fd, &text) != 0) {
		snprintf(err, errlen, "cannot read the thread iterator: %s", strerror(errno));
		goto out;
	}
	*n = parse_lines(text, out, cap);
	rc = 0;
out:
	free(text);
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	dump_bpf__destroy(skel);
	return rc;
}
