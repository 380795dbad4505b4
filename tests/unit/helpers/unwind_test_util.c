// SPDX-License-Identifier: MIT
#include "helpers/unwind_test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int unwind_test_process_load(struct unwind_test_process *p)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];

	memset(p, 0, sizeof(*p));
	if (!maps)
		return -1;
	while (fgets(line, sizeof(line), maps)) {
		uint64_t start, end, offset;
		char perms[8], path[4096] = "";
		struct unwind_mapping *m;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s", &start, &end, perms,
			   &offset, path) < 4)
			continue;
		if (strcmp(path, "[stack]") == 0)
			p->stack_end = end;
		if (perms[2] != 'x' || path[0] != '/' || p->count == UNWIND_TEST_MAX_MAPPINGS)
			continue;
		m = &p->mappings[p->count];
		m->start = start;
		m->end = end;
		if (unwind_table_build_from_path(path, &p->tables[p->count]) == 0 &&
		    unwind_table_load_bias(p->tables[p->count], start, offset, &m->bias) == 0)
			m->table = p->tables[p->count];
		p->count++;
	}
	fclose(maps);
	p->space.mappings = p->mappings;
	p->space.count = p->count;
	return p->stack_end ? 0 : -1;
}

void unwind_test_process_free(struct unwind_test_process *p)
{
	for (size_t i = 0; i < p->count; i++)
		unwind_table_free(p->tables[i]);
	memset(p, 0, sizeof(*p));
}

char *unwind_test_capture_output(const char *command)
{
	FILE *pipe = popen(command, "r");
	size_t size = 0, capacity = 1 << 20;
	char *out;

	if (!pipe)
		return NULL;
	out = malloc(capacity);
	while (out) {
		size_t n;

		if (size + 1 == capacity) {
			char *grown = realloc(out, capacity * 2);

			if (!grown) {
				free(out);
				out = NULL;
				break;
			}
			out = grown;
			capacity *= 2;
		}
		n = fread(out + size, 1, capacity - size - 1, pipe);
		if (n == 0)
			break;
		size += n;
	}
	/* The exit status is not checked: readelf exits 1 on libc.so.6 after printing everything. */
	pclose(pipe);
	if (out)
		out[size] = '\0';
	return out;
}

char *unwind_test_make_tmpdir(void)
{
	char *dir = strdup("/tmp/bpfspy-unwind-XXXXXX");

	if (dir && !mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

void unwind_test_remove_tree(const char *dir)
{
	char command[4200];

	if (dir && strncmp(dir, "/tmp/bpfspy-unwind-", 19) == 0) {
		snprintf(command, sizeof(command), "rm -rf '%s'", dir);
		if (system(command) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

int unwind_test_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok ? 0 : -1;
}

void *unwind_test_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *data = NULL;
	long length;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (length = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)length);
		if (data && fread(data, 1, (size_t)length, f) != (size_t)length) {
			free(data);
			data = NULL;
		}
		*size = (size_t)length;
	}
	fclose(f);
	return data;
}
