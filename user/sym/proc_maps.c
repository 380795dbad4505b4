// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sym/native_symbols.h"
#include "util/array.h"
#include "util/hash_map.h"
#include "util/procfs.h"
#include "util/sorted.h"

/* Larger than any real maps file (64k mappings of long paths), small enough to bound memory. */
#define MAX_MAPS_FILE (256u << 20)

static const char *parse_hex(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;
	for (;; p++, digits++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (digits == 16)
			return NULL;
		v = v << 4 | d;
	}
	*out = v;
	return digits ? p : NULL;
}

static const char *parse_decimal(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	*out = v;
	return p > start ? p : NULL;
}

static const char *expect(const char *p, char c)
{
	return p && *p == c ? p + 1 : NULL;
}

static const char *parse_perms(const char *p, struct proc_map *out)
{
	if (!p || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') || (p[2] != 'x' && p[2] != '-') ||
	    (p[3] != 's' && p[3] != 'p'))
		return NULL;
	out->readable = p[0] == 'r';
	out->writable = p[1] == 'w';
	out->executable = p[2] == 'x';
	out->shared = p[3] == 's';
	return p + 4;
}

static const char *parse_device(const char *p, struct proc_map *out)
{
	uint64_t major, minor;
	if (!p || !(p = parse_hex(p, &major)) || !(p = expect(p, ':')) || !(p = parse_hex(p, &minor)) ||
	    major > UINT32_MAX || minor > UINT32_MAX)
		return NULL;
	out->dev_major = (uint32_t)major;
	out->dev_minor = (uint32_t)minor;
	return p;
}

/* The path runs to the end of the line and may contain spaces. */
static int parse_path(const char *p, struct proc_map *out)
{
	static const char deleted[] = " (deleted)";
	const size_t deleted_len = sizeof(deleted) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strcspn(p, "\n");
	if (p[len] == '\n' && p[len + 1] != '\0')
		return -1; /* more than one line */
	if (len == 0)
		return 0;
	if (len > deleted_len && memcmp(p + len - deleted_len, deleted, deleted_len) == 0) {
		out->deleted = true;
		len -= deleted_len;
	}
	out->path = strndup(p, len);
	return out->path ? 0 : -1;
}

int proc_maps_parse_line(const char *line, struct proc_map *out)
{
	memset(out, 0, sizeof(*out));
	if (!line)
		return -1;
	const char *p = parse_hex(line, &out->start);
	p = expect(p, '-');
	p = p ? parse_hex(p, &out->end) : NULL;
	p = parse_perms(expect(p, ' '), out);
	p = expect(p, ' ');
	p = p ? parse_hex(p, &out->offset) : NULL;
	p = parse_device(expect(p, ' '), out);
	p = expect(p, ' ');
	p = p ? parse_decimal(p, &out->inode) : NULL;
	if (!p || out->start > out->end || (*p != ' ' && *p != '\n' && *p != '\0'))
		return -1;
	if (parse_path(p, out) != 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

static int compare_start(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int append_map(struct proc_maps *m, size_t *cap, const struct proc_map *map)
{
	if (array_reserve((void **)&m->maps, cap, m->n + 1, sizeof(*m->maps)) != 0)
		return -1;
	m->maps[m->n++] = *map;
	return 0;
}

static uint64_t next_serial(void)
{
	static uint64_t serial;
	return ++serial;
}

struct proc_maps *proc_maps_parse_buffer(const char *buf, size_t len)
{
	struct proc_maps *m = calloc(1, sizeof(*m));
	if (m)
		m->serial = next_serial();
	char *line = NULL;
	size_t line_cap = 0, cap = 0;
	if (!m)
		return NULL;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		if (line_len + 1 > line_cap) {
			char *bigger = realloc(line, line_len + 1);
			if (!bigger)
				goto fail;
			line = bigger;
			line_cap = line_len + 1;
		}
		memcpy(line, buf + pos, line_len);
		line[line_len] = '\0';
		pos += line_len + 1;
		struct proc_map map;
		/* An embedded NUL makes the line shorter than it is: malformed. */
		if (strlen(line) != line_len || proc_maps_parse_line(line, &map) != 0)
			continue;
		if (append_map(m, &cap, &map) != 0) {
			free(map.path);
			goto fail;
		}
	}
	free(line);
	if (m->n)
		qsort(m->maps, m->n, sizeof(*m->maps), compare_start);
	return m;
fail:
	free(line);
	proc_maps_free(m);
	errno = ENOMEM;
	return NULL;
}

struct proc_maps *proc_maps_read(pid_t pid)
{
	char path[64];
	size_t len;
	procfs_path(path, sizeof(path), pid, 0, "maps");
	char *buf = procfs_read_whole(path, MAX_MAPS_FILE, &len);
	if (!buf)
		return NULL;
	struct proc_maps *m = proc_maps_parse_buffer(buf, len);
	free(buf);
	return m;
}

void proc_maps_free(struct proc_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->maps[i].path);
	free(m->maps);
	free(m);
}

struct proc_maps *proc_maps_copy(const struct proc_maps *m)
{
	struct proc_maps *c = calloc(1, sizeof(*c));
	if (!c || !(c->maps = calloc(m->n ? m->n : 1, sizeof(*c->maps)))) {
		free(c);
		return NULL;
	}
	c->serial = next_serial();
	for (; c->n < m->n; c->n++) {
		c->maps[c->n] = m->maps[c->n];
		if (m->maps[c->n].path && !(c->maps[c->n].path = strdup(m->maps[c->n].path))) {
			proc_maps_free(c);
			return NULL;
		}
	}
	return c;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr)
{
	if (!m)
		return NULL;
	size_t lo = SORTED_COUNT_AT_OR_BELOW(m->maps, m->n, start, addr);
	if (lo == 0 || addr >= m->maps[lo - 1].end)
		return NULL;
	return &m->maps[lo - 1];
}

int proc_map_open(pid_t pid, const struct proc_map *m)
{
	char path[4096 + 64];
	struct stat st;
	if (!m->deleted) {
		int n = procfs_path(path, sizeof(path), pid, 0, "root");
		if (n > 0 && (size_t)n < sizeof(path))
			n += snprintf(path + n, sizeof(path) - (size_t)n, "%s", m->path);
		/* mapped devices (GPU, /dev/mem) are never ELF, and opening one can have side effects */
		bool fits = n > 0 && (size_t)n < sizeof(path);
		if (fits && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
			return -1;
		int fd = fits ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
		if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == m->inode)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	char range[64];
	snprintf(range, sizeof(range), "map_files/%llx-%llx", (unsigned long long)m->start, (unsigned long long)m->end);
	procfs_path(path, sizeof(path), pid, 0, range);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
}

struct file_key file_key_of_map(const struct proc_map *m)
{
	return (struct file_key){ .dev = (uint64_t)m->dev_major << 32 | m->dev_minor, .inode = m->inode };
}

struct file_key file_key_of_stat(const struct stat *st)
{
	return (struct file_key){ .dev = (uint64_t)major(st->st_dev) << 32 | minor(st->st_dev), .inode = st->st_ino };
}

uint64_t file_key_hash(const struct file_key *k)
{
	return hash_u64_pair(k->dev, k->inode);
}
