/* SPDX-License-Identifier: MIT */
/*
 * Is this process Python, which version, where is _PyRuntime, and which
 * offsets does the walker need? The executable and every mapped
 * libpython3.X.so are candidates; the one exporting _PyRuntime wins.
 */
#include "python/py_layout.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "python/py_memory.h"
#include "util/procfs.h"

/* The ELF file holding _PyRuntime, as mapped into the target. */
struct runtime_module {
	const struct proc_map *map;     /* its lowest mapping */
	const struct elf_symbols *elf;
	uint64_t bias;                  /* process address = bias + ELF vaddr */
	uint64_t runtime_vaddr, runtime_size;
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool is_libpython(const char *path)
{
	return path && strncmp(base_name(path), "libpython3", 10) == 0;
}

static bool is_executable_map(const struct proc_map *m, const struct stat *exe)
{
	return exe && m->path && m->inode == (uint64_t)exe->st_ino;
}

/* Load bias of the ELF behind m: where its file offset m->offset lands, minus that offset's vaddr. */
static bool mapping_bias(const struct elf_symbols *elf, const struct proc_map *m, uint64_t *bias)
{
	uint64_t vaddr;

	if (!elf_symbols_offset_to_vaddr(elf, m->offset, &vaddr))
		return false;
	*bias = m->start - vaddr;
	return true;
}

static bool find_runtime_module(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
				const struct stat *exe, struct runtime_module *out)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		const struct elf_symbols *elf;

		if (!m->path || (!is_executable_map(m, exe) && !is_libpython(m->path)))
			continue;
		/* One look per file: only its first (lowest) mapping. */
		if (i > 0 && maps->maps[i - 1].path && strcmp(maps->maps[i - 1].path, m->path) == 0)
			continue;
		elf = elf_cache_get(cache, pid, m);
		if (!elf || !elf_symbols_find(elf, "_PyRuntime", &out->runtime_vaddr, &out->runtime_size))
			continue;
		if (!mapping_bias(elf, m, &out->bias))
			continue;
		out->map = m;
		out->elf = elf;
		return true;
	}
	return false;
}

/* The executable needs libpython3.X.so but the loader has not mapped it yet. */
static bool needs_unmapped_libpython(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
				     const struct stat *exe)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		const struct elf_symbols *elf;
		const char *const *needed;
		size_t n;

		if (!is_executable_map(m, exe))
			continue;
		elf = elf_cache_get(cache, pid, m);
		if (!elf)
			return false;
		n = elf_symbols_needed(elf, &needed);
		for (size_t k = 0; k < n; k++)
			if (needed[k] && strncmp(needed[k], "libpython3", 10) == 0)
				return true;
		return false;
	}
	return false;
}

/* "python3.9", "libpython3.10.so.1.0", "libpython3.13t.so" -> minor; 0 if none. */
static unsigned minor_from_file_name(const char *path)
{
	const char *p = strstr(base_name(path), "python3.");
	unsigned minor = 0;

	if (!p)
		return 0;
	for (p += 8; isdigit((unsigned char)*p) && minor < 1000; p++)
		minor = minor * 10 + (unsigned)(*p - '0');
	return minor;
}

static uint32_t read_version_hex(const struct py_mem *mem, const struct runtime_module *rm, bool *exact)
{
	uint64_t vaddr, size, hex;
	unsigned minor;

	*exact = true;
	if (elf_symbols_find(rm->elf, "Py_Version", &vaddr, &size) &&
	    py_mem_read_u64(mem, rm->bias + vaddr, &hex) == 0 && PY_MAJOR(hex) == 3 && hex <= 0xffffffffu)
		return (uint32_t)hex;
	*exact = false;
	/* Before 3.11 only the file name says it; assume a final release. */
	minor = minor_from_file_name(rm->map->path);
	if (minor == 0 || minor > 255)
		return 0;
	return 0x030000f0u | minor << 16;
}

/* The _Py_DebugOffsets bytes: live memory first, else the file's .PyRuntime section. */
static int read_debug_offsets(const struct py_mem *mem, const struct runtime_module *rm, uint8_t *buf,
			      size_t len)
{
	uint64_t sec_vaddr, sec_size, sec_off;
	ssize_t n;
	int fd;

	if (rm->runtime_size && rm->runtime_size < len)
		len = rm->runtime_size;
	if (py_mem_read(mem, rm->bias + rm->runtime_vaddr, buf, len) == 0 && memcmp(buf, "xdebugpy", 8) == 0)
		return (int)len;
	if (!elf_symbols_section(rm->elf, ".PyRuntime", &sec_vaddr, &sec_size, &sec_off) ||
	    rm->runtime_vaddr < sec_vaddr || rm->runtime_vaddr - sec_vaddr >= sec_size)
		return -1;
	if (len > sec_size - (rm->runtime_vaddr - sec_vaddr))
		len = sec_size - (rm->runtime_vaddr - sec_vaddr);
	fd = open(elf_symbols_path(rm->elf), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)(sec_off + (rm->runtime_vaddr - sec_vaddr)));
	close(fd);
	return n > 0 ? (int)n : -1;
}

static enum py_detect_result unsupported(struct py_target *out, const char *fmt, const char *detail)
{
	snprintf(out->warning, sizeof(out->warning), fmt, out->version, detail);
	return PY_DETECT_UNSUPPORTED;
}

static enum py_detect_result choose_layout(const struct py_mem *mem, const struct runtime_module *rm,
					   struct py_target *out, struct py_layout *l)
{
	uint8_t buf[PY_DEBUG_OFFSETS_MAX];
	char err[160];
	int n;

	if (PY_MINOR(out->version_hex) < 8)
		return unsupported(out, "Python %s%s is too old (3.8+ is supported)", "");
	if (PY_MINOR(out->version_hex) <= 12) {
		if (!py_layout_from_table(out->version_hex, l))
			return unsupported(out, "Python %s%s: no offsets", "");
		return PY_DETECT_PYTHON;
	}
	n = read_debug_offsets(mem, rm, buf, sizeof(buf));
	if (n < 0)
		return unsupported(out, "Python %s: %s", "cannot read _Py_DebugOffsets");
	if (py_layout_from_debug_offsets(buf, (size_t)n, l, &out->free_threaded, err, sizeof(err)) < 0)
		return unsupported(out, "Python %s: %s", err);
	if (out->free_threaded)
		return unsupported(out, "Python %s: %s", "free-threaded builds are not supported");
	if (PY_MINOR(l->off.version_hex) != PY_MINOR(out->version_hex))
		return unsupported(out, "Python %s: %s", "_Py_DebugOffsets version disagrees with Py_Version");
	if (rm->runtime_size && l->runtime_size != rm->runtime_size)
		return unsupported(out, "Python %s: %s", "_Py_DebugOffsets runtime size != _PyRuntime size");
	return PY_DETECT_PYTHON;
}

/* 3.12+ keep the GIL in the interpreter; before Py_Initialize there is none yet (0). */
static uint64_t locate_gil(const struct py_mem *mem, const struct py_layout *l, uint64_t runtime)
{
	uint64_t interp = 0, gil = 0;

	if (l->runtime_gil != PY_OFF_NONE)
		return runtime + l->runtime_gil;
	if (l->interp_gil_ptr == PY_OFF_NONE ||
	    py_mem_read_u64(mem, runtime + l->off.rt_interpreters_head, &interp) < 0 || !interp ||
	    py_mem_read_u64(mem, interp + l->interp_gil_ptr, &gil) < 0)
		return 0;
	return gil;
}

/* A wrong table entry shows up as a thread state that doesn't point back at its interpreter. */
static bool offsets_consistent(const struct py_mem *mem, const struct py_offsets *o, uint64_t runtime)
{
	uint64_t interp, ts, back;

	if (py_mem_read_u64(mem, runtime + o->rt_interpreters_head, &interp) < 0)
		return false;
	if (!interp)
		return true; /* not initialised yet: nothing to check */
	if (py_mem_read_u64(mem, interp + o->interp_threads_head, &ts) < 0)
		return false;
	if (!ts)
		return true;
	return py_mem_read_u64(mem, ts + o->ts_interp, &back) == 0 && back == interp;
}

/*
 * PY_VERSION from PY_VERSION_HEX ("3.15.0a2", "3.12.1"). A version read from
 * a file name has no micro release: say "3.9", not "3.9.0".
 */
static void format_version(uint32_t hex, bool micro_known, char *out, size_t len)
{
	static const char *const levels[16] = { [0xa] = "a", [0xb] = "b", [0xc] = "rc" };
	unsigned level = hex >> 4 & 0xfu, serial = hex & 0xfu;

	if (!micro_known)
		snprintf(out, len, "%u.%u", PY_MAJOR(hex), PY_MINOR(hex));
	else if (levels[level])
		snprintf(out, len, "%u.%u.%u%s%u", PY_MAJOR(hex), PY_MINOR(hex), (hex >> 8) & 0xffu, levels[level],
			 serial);
	else
		snprintf(out, len, "%u.%u.%u", PY_MAJOR(hex), PY_MINOR(hex), (hex >> 8) & 0xffu);
}

/* Longest .bss searched for sys.version (a static python3 has all of CPython's there). */
#define BSS_SCAN_MAX (16u << 20)
#define BSS_CHUNK (256u << 10)

/* "3.9.18" at p (len bytes available) followed by " (": its length, else 0. */
static size_t version_at(const char *p, size_t len, unsigned minor)
{
	char want[16];
	size_t n = (size_t)snprintf(want, sizeof(want), "3.%u.", minor), i;

	if (len < n || memcmp(p, want, n) != 0)
		return 0;
	i = n;
	while (i < len && i < n + 3 && isdigit((unsigned char)p[i]))
		i++;
	if (i == n)
		return 0;
	if (i + 1 < len && (p[i] == 'a' || p[i] == 'b') && isdigit((unsigned char)p[i + 1]))
		i += 2;
	else if (i + 2 < len && p[i] == 'r' && p[i + 1] == 'c' && isdigit((unsigned char)p[i + 2]))
		i += 3;
	if (i < len && p[i] == '+')
		i++;
	return i + 2 <= len && p[i] == ' ' && p[i + 1] == '(' && i < 16 ? i : 0;
}

bool py_read_full_version(pid_t pid, struct py_target *t)
{
	const size_t cap = BSS_CHUNK + 32;
	struct py_mem mem;
	bool found = false;
	char *buf;

	if (t->version_exact)
		return true;
	if (!t->bss_addr || !t->bss_size || !(buf = malloc(cap)))
		return false;
	py_mem_open(&mem, pid);
	/* chunks overlap by 32 bytes so a string across a boundary is seen whole */
	for (uint64_t off = 0; !found && off < t->bss_size && off < BSS_SCAN_MAX; off += BSS_CHUNK) {
		size_t n = t->bss_size - off < cap ? (size_t)(t->bss_size - off) : cap;

		if (py_mem_read(&mem, t->bss_addr + off, buf, n) < 0)
			break;
		for (size_t i = 0; i < n && !found; i++) {
			size_t len;

			if (buf[i] != '3' || (i > 0 && buf[i - 1] != '\0') || (i == 0 && off > 0))
				continue;
			len = version_at(buf + i, n - i, PY_MINOR(t->version_hex));
			if (len && len < sizeof(t->version)) {
				memcpy(t->version, buf + i, len);
				t->version[len] = '\0';
				found = true;
			}
		}
	}
	py_mem_close(&mem);
	free(buf);
	t->version_exact = found;
	return found;
}


/* What the BPF walker copies of a code object it meets for the first time. */
static void fill_capture_offsets(struct py_target *t)
{
	t->proc.off.code_qualname = t->obj.code_qualname;
	t->proc.off.code_linetable = t->obj.code_linetable;
	t->proc.off.bytes_size = t->obj.bytes_size;
	t->proc.off.bytes_data = t->obj.bytes_data;
	t->proc.off.code_capture_len = (uint16_t)py_code_header_len(t);
}

void py_target_set_layout(struct py_target *t, const struct py_layout *l, uint64_t runtime_addr)
{
	t->proc.runtime_addr = runtime_addr;
	t->proc.off = l->off;
	t->proc.off.version_hex = t->version_hex;
	t->proc.off.interp_gil_ptr = l->interp_gil_ptr;
	t->obj = l->obj;
	t->locals = l->locals;
	t->async = l->async;
	fill_capture_offsets(t);
}

static uint64_t symbol_addr(const struct runtime_module *rm, const char *name)
{
	uint64_t vaddr, size;

	return elf_symbols_find(rm->elf, name, &vaddr, &size) ? rm->bias + vaddr : 0;
}

/* Exported (PyAPI_DATA) on every version, so in .dynsym of stripped builds too. */
static void find_types(const struct runtime_module *rm, struct py_type_addrs *out)
{
	out->long_type = symbol_addr(rm, "PyLong_Type");
	out->bool_type = symbol_addr(rm, "PyBool_Type");
	out->float_type = symbol_addr(rm, "PyFloat_Type");
	out->unicode_type = symbol_addr(rm, "PyUnicode_Type");
	out->bytes_type = symbol_addr(rm, "PyBytes_Type");
	out->none = symbol_addr(rm, "_Py_NoneStruct");
}

static enum py_detect_result fill_target(pid_t pid, const struct runtime_module *rm, struct py_target *out)
{
	struct py_layout l;
	struct py_mem mem;
	enum py_detect_result r;
	uint64_t vaddr, size, off;
	bool exact;

	py_mem_open(&mem, pid);
	snprintf(out->runtime_module, sizeof(out->runtime_module), "%s", rm->map->path);
	out->version_hex = read_version_hex(&mem, rm, &exact);
	if (!out->version_hex) {
		py_mem_close(&mem);
		snprintf(out->warning, sizeof(out->warning), "%s exports _PyRuntime but its version is unknown",
			 rm->map->path);
		return PY_DETECT_UNSUPPORTED;
	}
	format_version(out->version_hex, exact, out->version, sizeof(out->version));
	out->version_exact = exact;
	if (elf_symbols_section(rm->elf, ".bss", &vaddr, &size, &off)) {
		out->bss_addr = rm->bias + vaddr;
		out->bss_size = size;
	}
	r = choose_layout(&mem, rm, out, &l);
	if (r == PY_DETECT_PYTHON) {
		py_target_set_layout(out, &l, rm->bias + rm->runtime_vaddr);
		/*
		 * Read while the interpreter builds or tears down its thread list: try
		 * again later (the caller gives up after a while, with this warning).
		 */
		if (!offsets_consistent(&mem, &l.off, out->proc.runtime_addr)) {
			snprintf(out->warning, sizeof(out->warning), "Python %s: thread state does not match its interpreter",
				 out->version);
			r = PY_DETECT_PENDING;
		}
	}
	if (r == PY_DETECT_PYTHON) {
		out->proc.gil_addr = locate_gil(&mem, &l, out->proc.runtime_addr);
		if (elf_symbols_find(rm->elf, "PyCode_Type", &vaddr, &size))
			out->code_type_addr = rm->bias + vaddr;
		find_types(rm, &out->types);
	}
	py_mem_close(&mem);
	return r;
}

enum py_detect_result py_detect(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
				struct py_target *out)
{
	struct runtime_module rm = { 0 };
	struct stat exe_st;
	const struct stat *exe = NULL;
	char exe_path[64];

	memset(out, 0, sizeof(*out));
	if (!maps || !cache)
		return PY_DETECT_NOT_PYTHON;
	procfs_path(exe_path, sizeof(exe_path), pid, 0, "exe");
	if (stat(exe_path, &exe_st) == 0)
		exe = &exe_st;
	if (find_runtime_module(pid, maps, cache, exe, &rm))
		return fill_target(pid, &rm, out);
	if (needs_unmapped_libpython(pid, maps, cache, exe))
		return PY_DETECT_PENDING;
	return PY_DETECT_NOT_PYTHON;
}
