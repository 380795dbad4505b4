// SPDX-License-Identifier: MIT
/*
 * The protobuf encoder, decoded by an independent decoder (protoc
 * --decode_raw, Debian protobuf-compiler), and the pprof writer, gunzipped
 * and decoded here field by field and checked against the fixture's samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "output/protobuf.h"
#include "profile/profile.h"
#include "test_write_fixture.h"

/* ---- the encoder against protoc --decode_raw ---- */

static bool have_protoc(void)
{
	return system("command -v protoc >/dev/null 2>&1") == 0;
}

/* Runs protoc --decode_raw on the bytes; returns its output (malloc'ed). */
static char *decode_raw(const struct pb_buf *b)
{
	char path[] = "/tmp/bpfspy-pb-XXXXXX", cmd[128];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "protoc --decode_raw < %s", path);
	FILE *p = popen(cmd, "r");
	char *out = calloc(1, 1 << 16);
	size_t n = fread(out, 1, (1 << 16) - 1, p);

	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return out;
}

static void test_encoder_decodes_with_protoc(void **state)
{
	if (!have_protoc())
		skip();
	struct pb_buf b = { 0 };
	char big[201];

	memset(big, 'o', 200); /* 'o' = 0x6f: wire type 7, so protoc shows a string, not a message */
	big[200] = '\0';
	pb_uint64_field(&b, 1, 150);
	pb_uint64_field(&b, 2, 300);
	pb_int64_field(&b, 3, -1);
	pb_uint64_field(&b, 4, UINT64_MAX);
	pb_mark outer = pb_open(&b, 5);
	pb_uint64_field(&b, 1, 1);
	pb_string_field(&b, 2, "abc");
	pb_mark inner = pb_open(&b, 3);
	pb_uint64_field(&b, 7, 0);
	pb_close(&b, inner);
	pb_close(&b, outer);
	/* a nested message longer than 127 bytes: the length takes two bytes */
	pb_mark long_msg = pb_open(&b, 6);
	pb_string_field(&b, 1, big);
	pb_uint64_field(&b, 2, 9);
	pb_close(&b, long_msg);
	pb_string_field(&b, 8, "hello");
	assert_false(pb_failed(&b));

	char expected[1024];
	snprintf(expected, sizeof(expected),
		 "1: 150\n2: 300\n3: 18446744073709551615\n4: 18446744073709551615\n"
		 "5 {\n  1: 1\n  2: \"abc\"\n  3 {\n    7: 0\n  }\n}\n"
		 "6 {\n  1: \"%s\"\n  2: 9\n}\n8: \"hello\"\n",
		 big);
	char *got = decode_raw(&b);
	assert_string_equal(got, expected);
	free(got);
	pb_buf_free(&b);
}

/*
 * Packed varints: decode_raw cannot know the field is packed, so it shows the
 * raw bytes; 1, 300, 70000 are 01, ac 02, f0 a2 04 on the wire.
 */
static void test_packed_varints(void **state)
{
	if (!have_protoc())
		skip();
	struct pb_buf b = { 0 };
	pb_mark m = pb_open(&b, 1);

	pb_varint(&b, 1);
	pb_varint(&b, 300);
	pb_varint(&b, 70000);
	pb_close(&b, m);
	static const uint8_t wire[] = { 0x0a, 6, 0x01, 0xac, 0x02, 0xf0, 0xa2, 0x04 };
	assert_int_equal(b.len, sizeof(wire));
	assert_memory_equal(b.data, wire, sizeof(wire));

	char *got = decode_raw(&b);
	assert_string_equal(got, "1: \"\\001\\254\\002\\360\\242\\004\"\n");
	free(got);
	pb_buf_free(&b);
}

/* ---- a small independent decoder for the pprof output ---- */

struct cursor {
	const uint8_t *p, *end;
};

static uint64_t read_varint(struct cursor *c)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		assert_true(c->p < c->end);
		uint8_t byte = *c->p++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	fail_msg("varint too long");
	return 0;
}

/* Next field: returns 0 at the end; sets *sub to a length-delimited body. */
static int next_field(struct cursor *c, uint32_t *field, uint64_t *value, struct cursor *sub)
{
	if (c->p >= c->end)
		return 0;
	uint64_t key = read_varint(c);
	*field = (uint32_t)(key >> 3);
	switch (key & 7) {
	case 0:
		*value = read_varint(c);
		return 1;
	case 2:
		*value = read_varint(c);
		assert_true(*value <= (uint64_t)(c->end - c->p));
		sub->p = c->p;
		sub->end = c->p + *value;
		c->p += *value;
		return 2;
	default:
		fail_msg("unexpected wire type %d", (int)(key & 7));
		return 0;
	}
}

#define MAX_ITEMS 4096

struct decoded {
	char *strings[MAX_ITEMS];
	size_t nstrings;
	uint64_t function_name[MAX_ITEMS]; /* by function id */
	uint64_t location_function[MAX_ITEMS]; /* by location id */
	uint64_t location_mapping[MAX_ITEMS]; /* by location id */
	struct {
		uint64_t id, filename, build_id; /* string indices */
	} mappings[64];
	size_t nmappings;
	uint64_t period, duration, default_type;
	uint64_t sample_types[4][2];
	size_t nsample_types;
	/* per sample */
	struct {
		uint64_t leaf_location, values[2], pid, tid;
		size_t depth;
	} samples[MAX_ITEMS];
	size_t nsamples;
};

static void decode_value_type(struct cursor c, uint64_t out[2])
{
	uint32_t f;
	uint64_t v;
	struct cursor sub;

	while (next_field(&c, &f, &v, &sub))
		if (f == 1 || f == 2)
			out[f - 1] = v;
}

static void decode_label(struct decoded *d, struct cursor c, size_t s)
{
	uint32_t f;
	uint64_t v, key = 0, num = 0;
	struct cursor sub;

	while (next_field(&c, &f, &v, &sub)) {
		if (f == 1)
			key = v;
		else if (f == 3)
			num = v;
	}
	/* strings are last in our files, so keys are resolved later: keep both */
	if (key && num) {
		if (!d->samples[s].pid)
			d->samples[s].pid = num;
		else
			d->samples[s].tid = num;
	}
}

static void decode_sample(struct decoded *d, struct cursor c)
{
	uint32_t f;
	uint64_t v;
	struct cursor sub;
	size_t s = d->nsamples++;

	assert_true(s < MAX_ITEMS);
	while (next_field(&c, &f, &v, &sub)) {
		if (f == 1) {
			for (size_t i = 0; sub.p < sub.end; i++) {
				uint64_t loc = read_varint(&sub);
				if (i == 0)
					d->samples[s].leaf_location = loc;
				d->samples[s].depth++;
			}
		} else if (f == 2) {
			for (size_t i = 0; sub.p < sub.end; i++) {
				assert_true(i < 2);
				d->samples[s].values[i] = read_varint(&sub);
			}
		} else if (f == 3) {
			decode_label(d, sub, s);
		}
	}
}

static void decode_location(struct decoded *d, struct cursor c)
{
	uint32_t f, lf;
	uint64_t v, lv, id = 0, function = 0, mapping = 0;
	struct cursor sub, lsub;

	while (next_field(&c, &f, &v, &sub)) {
		if (f == 1)
			id = v;
		else if (f == 2)
			mapping = v;
		else if (f == 4)
			while (next_field(&sub, &lf, &lv, &lsub))
				if (lf == 1)
					function = lv;
	}
	assert_true(id > 0 && id < MAX_ITEMS);
	d->location_function[id] = function;
	d->location_mapping[id] = mapping;
}

static void decode_mapping(struct decoded *d, struct cursor c)
{
	uint32_t f;
	uint64_t v;
	struct cursor sub;

	assert_true(d->nmappings < sizeof(d->mappings) / sizeof(d->mappings[0]));
	while (next_field(&c, &f, &v, &sub)) {
		if (f == 1)
			d->mappings[d->nmappings].id = v;
		else if (f == 5)
			d->mappings[d->nmappings].filename = v;
		else if (f == 6)
			d->mappings[d->nmappings].build_id = v;
	}
	d->nmappings++;
}

static void decode_function(struct decoded *d, struct cursor c)
{
	uint32_t f;
	uint64_t v, id = 0, name = 0;
	struct cursor sub;

	while (next_field(&c, &f, &v, &sub)) {
		if (f == 1)
			id = v;
		else if (f == 2)
			name = v;
	}
	assert_true(id > 0 && id < MAX_ITEMS);
	d->function_name[id] = name;
}

static void decode_profile(struct decoded *d, const uint8_t *buf, size_t len)
{
	struct cursor c = { buf, buf + len }, sub;
	uint32_t f;
	uint64_t v;

	while (next_field(&c, &f, &v, &sub)) {
		switch (f) {
		case 1: decode_value_type(sub, d->sample_types[d->nsample_types++]); break;
		case 2: decode_sample(d, sub); break;
		case 3: decode_mapping(d, sub); break;
		case 4: decode_location(d, sub); break;
		case 5: decode_function(d, sub); break;
		case 6:
			assert_true(d->nstrings < MAX_ITEMS);
			d->strings[d->nstrings++] = strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
			break;
		case 10: d->duration = v; break;
		case 12: d->period = v; break;
		case 14: d->default_type = v; break;
		}
	}
}

static uint8_t *gunzip(const char *in, size_t len, size_t *out_len)
{
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	z_stream z = { 0 };

	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

static void test_pprof_matches_fixture(void **state)
{
	struct fixture *fx = malloc(sizeof(*fx));
	char *buf = NULL;
	size_t len = 0, raw_len;

	assert_int_equal(fixture_build(fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(write_pprof(fx->p, f, NULL), 0);
	fclose(f);
	assert_true(len > 2 && (uint8_t)buf[0] == 0x1f && (uint8_t)buf[1] == 0x8b); /* gzip magic */

	uint8_t *raw = gunzip(buf, len, &raw_len);
	struct decoded *d = calloc(1, sizeof(*d));
	decode_profile(d, raw, raw_len);

	assert_string_equal(d->strings[0], "");
	assert_int_equal(d->nsample_types, 2);
	assert_string_equal(d->strings[d->sample_types[0][0]], "samples");
	assert_string_equal(d->strings[d->sample_types[0][1]], "count");
	assert_string_equal(d->strings[d->sample_types[1][0]], "cpu");
	assert_string_equal(d->strings[d->sample_types[1][1]], "nanoseconds");
	assert_string_equal(d->strings[d->default_type], "cpu");
	assert_int_equal(d->period, 1000000000ull / FIX_RATE_HZ);

	/* per (tid, leaf function name): counts from the fixture's own sample list */
	uint64_t total = 0, total_ns = 0;
	for (size_t s = 0; s < d->nsamples; s++) {
		uint64_t fn = d->location_function[d->samples[s].leaf_location];
		const char *leaf = d->strings[d->function_name[fn]];
		uint64_t expect = 0;

		for (int i = 0; i < FIX_NSAMPLES; i++) {
			const struct fix_stack *st = &FIX_STACKS[fx->samples[i].stack];
			const char *want = st->n ? FIX_FRAMES[st->frames[st->n - 1]].name : "[unknown]";
			size_t depth = st->n ? (size_t)st->n : 1;

			if (FIX_THREADS[fx->samples[i].thread].tid == d->samples[s].tid && !strcmp(want, leaf) &&
			    depth == d->samples[s].depth)
				expect++;
		}
		/* one pprof sample per (thread, stack); leaf + depth identify the fixture's stacks */
		assert_int_equal(d->samples[s].values[0], expect);
		assert_int_equal(d->samples[s].values[1], expect * (1000000000ull / FIX_RATE_HZ));
		total += d->samples[s].values[0];
		total_ns += d->samples[s].values[1];
	}
	assert_int_equal(total, FIX_NSAMPLES);
	assert_int_equal(total_ns, FIX_NSAMPLES * (1000000000ull / FIX_RATE_HZ));

	for (size_t i = 0; i < d->nstrings; i++)
		free(d->strings[i]);
	free(d);
	free(raw);
	free(buf);
	profile_free(fx->p);
	free(fx);
}

/* --idle profiles: wall time in nanoseconds, counts of samples. */
static void test_pprof_nanoseconds(void **state)
{
	struct fixture *fx = malloc(sizeof(*fx));
	char *buf = NULL;
	size_t len = 0, raw_len;

	assert_int_equal(fixture_build(fx, PROFILE_UNIT_NANOSECONDS, FIX_NTHREADS), 0);
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(write_pprof(fx->p, f, NULL), 0);
	fclose(f);
	uint8_t *raw = gunzip(buf, len, &raw_len);
	struct decoded *d = calloc(1, sizeof(*d));
	decode_profile(d, raw, raw_len);

	assert_string_equal(d->strings[d->sample_types[1][0]], "wall");
	uint64_t count = 0, ns = 0, want_ns = 0;
	for (size_t s = 0; s < d->nsamples; s++) {
		count += d->samples[s].values[0];
		ns += d->samples[s].values[1];
	}
	for (int i = 0; i < FIX_NSAMPLES; i++)
		want_ns += fx->samples[i].weight;
	assert_int_equal(count, FIX_NSAMPLES);
	assert_int_equal(ns, want_ns);

	for (size_t i = 0; i < d->nstrings; i++)
		free(d->strings[i]);
	free(d);
	free(raw);
	free(buf);
	profile_free(fx->p);
	free(fx);
}

/*
 * Mapping build-ids come from the profile's module table, recorded while the
 * process was alive: here the files do not exist, so re-reading them could
 * give nothing.
 */
static void test_pprof_build_ids_from_module_table(void **state)
{
	struct profile_meta meta = { .command = "gone", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	static const char *const files[] = { "/gone/bin/app", "/gone/lib/libx.so", "/gone/lib/liby.so" };
	static const char *const ids[] = { "00112233445566778899aabbccddeeff00112233", "abcdef", "" };
	uint32_t stack[4];

	for (size_t i = 0; i < 3; i++) {
		struct frame_desc fd = { .name = files[i] + 6, .file = files[i], .kind = FRAME_NATIVE };
		stack[i] = profile_intern_frame(p, &fd);
		assert_int_equal(profile_add_module(p, files[i], ids[i]), 0);
	}
	struct frame_desc py = { .name = "run", .file = "/gone/app.py", .line = 2, .kind = FRAME_PYTHON };
	stack[3] = profile_intern_frame(p, &py);
	assert_int_equal(profile_add_sample(p, 1, 1, stack, 4, 1, 100), 0);

	char *buf = NULL;
	size_t len = 0, raw_len;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(write_pprof(p, f, NULL), 0);
	fclose(f);
	uint8_t *raw = gunzip(buf, len, &raw_len);
	struct decoded *d = calloc(1, sizeof(*d));
	decode_profile(d, raw, raw_len);

	assert_int_equal(d->nmappings, 3); /* one per native file, none for Python */
	for (size_t i = 0; i < 3; i++) {
		uint64_t m = d->location_mapping[stack[i] + 1];

		assert_true(m >= 1 && m <= d->nmappings);
		assert_int_equal(d->mappings[m - 1].id, m);
		assert_string_equal(d->strings[d->mappings[m - 1].filename], files[i]);
		/* no build-id known: the field is absent, string 0 */
		assert_string_equal(d->strings[d->mappings[m - 1].build_id], ids[i]);
	}
	assert_int_equal(d->location_mapping[stack[3] + 1], 0);
	for (size_t i = 0; i < d->nstrings; i++)
		free(d->strings[i]);
	free(d);
	free(raw);
	free(buf);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoder_decodes_with_protoc),
		cmocka_unit_test(test_packed_varints),
		cmocka_unit_test(test_pprof_matches_fixture),
		cmocka_unit_test(test_pprof_nanoseconds),
		cmocka_unit_test(test_pprof_build_ids_from_module_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
