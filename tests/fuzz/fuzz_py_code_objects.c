// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: naming a code object (user/python/py_symbolizer.c with
 * py_objects.c, py_unicode.c, py_linetable.c) from a fake process memory.
 *
 * The seam is at link time: this file defines py_mem_open/close/read/read_u64
 * (py_memory.h) over the fuzz input instead of /proc/PID/mem, so the product
 * code runs unchanged. Input (make_py_seeds.py writes real ones):
 *   u8  minor version (low 7 bits), free-threaded (bit 7)
 *   u8  flags: bit 0 = check ob_type against CODE_TYPE_ADDR
 *   u16 offsets: ob_type, co_filename, co_name, co_qualname, co_linetable,
 *       co_firstlineno, PyBytesObject ob_size, ob_sval (0xffff = none);
 *       the offsets are then held to what every layout source guarantees
 *       (pyoffsets.h, py_offsets_table.c, py_debug_offsets.c check_plausible):
 *       ob_type right after ob_refcnt, co_name == co_filename + 8, every
 *       code field set and inside the object (< 0x400), co_qualname optional
 *   the memory image, mapped at IMAGE_BASE; the code object is at its start
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python/py_layout.h"
#include "python/py_memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE_BASE 0x100000ull
#define CODE_TYPE_ADDR 0x7eadbeef0000ull
#define HEADER_SIZE (2 + 8 * 2)

static const uint8_t *image;
static size_t image_len;

void py_mem_open(struct py_mem *m, pid_t pid)
{
	m->pid = pid;
	m->fd = -1;
}

void py_mem_close(struct py_mem *m)
{
	m->fd = -1;
}

int py_mem_read(const struct py_mem *m, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (addr < IMAGE_BASE || addr - IMAGE_BASE > image_len || len > image_len - (addr - IMAGE_BASE))
		return -1;
	memcpy(buf, image + (addr - IMAGE_BASE), len);
	return 0;
}

int py_mem_read_u64(const struct py_mem *m, uint64_t addr, uint64_t *out)
{
	return py_mem_read(m, addr, out, sizeof(*out));
}

static uint64_t image_u64(uint16_t off)
{
	uint64_t v = 0;

	if (off != PY_OFF_NONE && (size_t)off + 8 <= image_len)
		memcpy(&v, image + off, 8);
	return v;
}

static void check_info(const struct py_code_info *info, int line)
{
	if (!info->name || !info->qualname || !info->filename || line < 0)
		__builtin_trap();
	/* the strings must be readable to their end */
	(void)strlen(info->name);
	(void)strlen(info->qualname);
	(void)strlen(info->filename);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_target t;
	uint16_t offs[8];

	if (size < HEADER_SIZE)
		return 0;
	memset(&t, 0, sizeof(t));
	unsigned minor = data[0] & 0x7f;
	t.version_hex = 0x030000f0u | (minor % 32) << 16;
	t.free_threaded = data[0] >> 7;
	t.code_type_addr = (data[1] & 1) ? CODE_TYPE_ADDR : 0;
	t.proc.off.lasti_kind = minor <= 9 ? PY_LASTI_BYTES : minor == 10 ? PY_LASTI_UNITS : PY_LASTI_ADAPTIVE;
	memcpy(offs, data + 2, sizeof(offs));
	offs[0] = t.free_threaded ? 0x18 : 0x08;
	offs[1] &= 0x3ff;
	offs[2] = (uint16_t)(offs[1] + 8);
	if (offs[3] != PY_OFF_NONE)
		offs[3] &= 0x3ff;
	offs[4] &= 0x3ff;
	offs[5] &= 0x3ff;
	t.obj.ob_type = offs[0];
	t.proc.off.code_filename = offs[1];
	t.proc.off.code_name = offs[2];
	t.obj.code_qualname = offs[3];
	t.obj.code_linetable = offs[4];
	t.obj.code_firstlineno = offs[5];
	t.obj.bytes_size = offs[6];
	t.obj.bytes_data = offs[7];
	image = data + HEADER_SIZE;
	image_len = size - HEADER_SIZE;

	/* the walker's sig is co_filename ^ co_name as it read them: use the image's own */
	uint64_t sig = image_u64(offs[1]) ^ image_u64(offs[2]);
	struct py_symbolizer *s = py_symbolizer_new(1, &t);
	struct py_code_info info;
	int line;

	if (!s)
		return 0;
	if (py_symbolize(s, IMAGE_BASE, sig, 4, &info, &line) == 0) {
		check_info(&info, line);
		/* cached: same answer without reading again */
		if (py_symbolize(s, IMAGE_BASE, sig, -1, &info, &line) != 0)
			__builtin_trap();
		check_info(&info, line);
	}
	/* a stale sig must be refused, not answered from the cache */
	if (py_symbolize(s, IMAGE_BASE, sig ^ 0x10, 0, &info, &line) == 0)
		__builtin_trap();
	/* other addresses inside the image: misaligned and overlapping objects */
	for (uint64_t a = IMAGE_BASE + 8; a < IMAGE_BASE + image_len && a < IMAGE_BASE + 256; a += 24)
		if (py_symbolize(s, a, sig, 2, &info, &line) == 0)
			check_info(&info, line);
	py_symbolizer_free(s);
	return 0;
}
