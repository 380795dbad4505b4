// SPDX-License-Identifier: MIT
#include "helpers/sym_test_util.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char *vformat(const char *fmt, va_list ap)
{
	char *cmd = NULL;
	return vasprintf(&cmd, fmt, ap) < 0 ? NULL : cmd;
}

int sym_test_run(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	if (!cmd)
		return -1;
	int status = system(cmd);
	free(cmd);
	return status < 0 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
}

char *sym_test_capture(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	FILE *p = cmd ? popen(cmd, "r") : NULL;
	free(cmd);
	if (!p)
		return NULL;
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	int status = pclose(p);
	if (buf)
		buf[len] = '\0';
	if (status != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int sym_test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	size_t len = strlen(text);
	int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

char *sym_test_make_tmpdir(void)
{
	char *dir = strdup("/tmp/bpfspy-sym-test-XXXXXX");
	if (dir && !mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

void sym_test_remove_tree(const char *dir)
{
	if (dir && strncmp(dir, "/tmp/bpfspy-sym-test-", 21) == 0)
		sym_test_run("rm -rf '%s'", dir);
}

size_t sym_test_nm(const char *file, bool dynamic, const char *prefix, struct sym_test_nm_symbol *out, size_t max)
{
	char *text = sym_test_capture("nm -S --defined-only %s '%s' 2>/dev/null", dynamic ? "-D" : "", file);
	size_t n = 0;
	if (!text)
		return 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long addr, size;
		char type, name[256];
		/* "ADDR SIZE TYPE NAME"; symbols without a size have only three fields */
		if (sscanf(line, "%llx %llx %c %255s", &addr, &size, &type, name) != 4)
			continue;
		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", name);
		out[n].type = type;
		out[n].addr = addr;
		out[n].size = size;
		n++;
	}
	free(text);
	return n;
}

bool sym_test_nm_find(const char *file, bool dynamic, const char *name, uint64_t *addr, uint64_t *size)
{
	struct sym_test_nm_symbol syms[64];
	size_t n = sym_test_nm(file, dynamic, name, syms, 64);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(syms[i].name, name) == 0) {
			*addr = syms[i].addr;
			*size = syms[i].size;
			return true;
		}
	}
	return false;
}

bool sym_test_readelf_build_id(const char *file, char *out, size_t size)
{
	char *text = sym_test_capture("readelf -n '%s' 2>/dev/null", file);
	char *p = text ? strstr(text, "Build ID: ") : NULL;
	bool ok = p && sscanf(p + 10, "%127s", out) == 1 && strlen(out) < size;
	free(text);
	return ok;
}

int sym_test_compress_section(const char *path, const char *section)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	Elf *elf = elf_begin(fd, ELF_C_RDWR, NULL);
	size_t shstrndx;
	int rc = -1;
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
			GElf_Shdr sh;
			const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
			if (name && strcmp(name, section) == 0) {
				rc = elf_compress(scn, ELFCOMPRESS_ZLIB, ELF_CHF_FORCE) == 1 ? 0 : -1;
				break;
			}
		}
		if (rc == 0 && elf_update(elf, ELF_C_WRITE) < 0)
			rc = -1;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

void sym_test_child_start(const char *path, struct sym_test_child *c, uint64_t *addrs, size_t naddrs)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->stdin_fd = in[1];
	FILE *f = fdopen(out[0], "r");
	assert_non_null(f);
	for (size_t i = 0; i < naddrs; i++) {
		unsigned long long v;
		assert_int_equal(fscanf(f, "%llx", &v), 1);
		addrs[i] = v;
	}
	fclose(f);
}

void sym_test_child_stop(struct sym_test_child *c)
{
	close(c->stdin_fd);
	int status;
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status));
}
