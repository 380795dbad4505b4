// SPDX-License-Identifier: MIT
/* The speedscope document layer under convert and tools/: members as JSON.parse sees them, decoding, stepping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/speedscope_doc.h"

static void open_ok(struct speedscope_doc *doc, const char *json, const struct speedscope_doc_options *opts)
{
	assert_int_equal(speedscope_doc_open(doc, json, strlen(json), opts), SPEEDSCOPE_DOC_OK);
}

static void assert_text(struct json_span v, const char *want)
{
	char *s = speedscope_value_strdup(v);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

/* Of duplicate keys the last wins, at every level, whatever the first one's kind. */
static void test_last_duplicate_key_wins(void **state)
{
	static const char json[] =
		"{\"name\":\"first\",\"shared\":{\"frames\":[{\"name\":\"x\"}]},\"name\":\"second\","
		"\"shared\":{\"frames\":[{\"name\":\"a\",\"name\":\"b\",\"line\":1,\"line\":null}],\"frames\":[]},"
		"\"profiles\":5,\"profiles\":[{\"type\":\"sampled\",\"unit\":\"none\",\"unit\":\"seconds\"}]}";
	struct speedscope_doc doc;
	struct speedscope_array frames, profiles;
	struct speedscope_frame_fields f;
	struct speedscope_profile_fields p;
	struct json_span v;
	bool is_object;

	open_ok(&doc, json, NULL);
	assert_text(doc.name, "second");
	assert_null(doc.bpfspy.start);
	assert_true(speedscope_array_begin(&frames, speedscope_shared_frames(&doc)));
	assert_false(speedscope_array_take(&frames, &v)); /* the second, empty "frames" */

	assert_true(speedscope_array_begin(&profiles, doc.profiles));
	assert_true(speedscope_profiles_next(&profiles, &p, &is_object) && is_object);
	assert_true(speedscope_value_is(p.type, "sampled"));
	assert_true(speedscope_value_is(p.unit, "seconds"));
	assert_null(p.samples.start);

	/* a frame object on its own */
	const char *frame = strstr(json, "{\"name\":\"a\"");
	assert_true(speedscope_frame_read((struct json_span){ frame, strchr(frame, '}') + 1 - frame }, &f));
	assert_text(f.name, "b");
	assert_int_equal(speedscope_value_kind(f.line), JSON_KIND_NULL);
	assert_null(f.file.start);
	speedscope_doc_close(&doc);
}

static void test_not_json_and_not_an_object(void **state)
{
	struct speedscope_doc doc;

	assert_int_equal(speedscope_doc_open(&doc, "{\"a\":", 5, NULL), SPEEDSCOPE_DOC_NOT_JSON);
	assert_int_equal(doc.error_offset, 5);
	speedscope_doc_close(&doc);
	assert_int_equal(speedscope_doc_open(&doc, "[1]", 3, NULL), SPEEDSCOPE_DOC_NOT_OBJECT);
	speedscope_doc_close(&doc);
	assert_int_equal(speedscope_doc_open(&doc, "", 0, NULL), SPEEDSCOPE_DOC_NOT_JSON);
	speedscope_doc_close(&doc);
}

/* Bytes that are not UTF-8 are latin-1 when asked (as the tool's Python script reads them), else kept. */
static void test_latin1_fallback(void **state)
{
	static const char json[] = "{\"name\":\"caf\xe9\"}";
	struct speedscope_doc doc;

	open_ok(&doc, json, &(struct speedscope_doc_options){ .latin1_fallback = true });
	assert_text(doc.name, "caf\xc3\xa9");
	speedscope_doc_close(&doc);
	open_ok(&doc, json, NULL);
	assert_text(doc.name, "caf\xe9");
	speedscope_doc_close(&doc);
}

/* Samples and weights in step; a short weights array is said, a long one found at the end. */
static void test_samples_with_weights(void **state)
{
	static const char json[] = "{\"profiles\":[{\"samples\":[[0],[1,2],3],\"weights\":[5,\"x\"]},"
				   "{\"samples\":[[0]],\"weights\":[1,2]},{\"samples\":[[0]]},{\"samples\":{}},7]}";
	struct speedscope_doc doc;
	struct speedscope_array profiles;
	struct speedscope_profile_fields p;
	struct speedscope_samples s;
	struct json_span w;
	bool is_object;
	double d;

	open_ok(&doc, json, NULL);
	assert_true(speedscope_array_begin(&profiles, doc.profiles));

	assert_true(speedscope_profiles_next(&profiles, &p, &is_object) && is_object);
	assert_true(speedscope_samples_begin(&s, &p));
	assert_true(speedscope_samples_next(&s, &w));
	assert_int_equal(json_peek_kind(&s.at), JSON_KIND_ARRAY);
	json_skip_value(&s.at);
	assert_true(speedscope_value_number(w, &d));
	assert_true(d == 5);
	assert_true(speedscope_samples_next(&s, &w));
	json_skip_value(&s.at);
	assert_true(speedscope_value_is(w, "x"));
	assert_true(speedscope_samples_next(&s, &w));
	assert_true(json_take_number(&s.at) == 3);
	assert_null(w.start);
	assert_true(s.weights_short);
	assert_false(speedscope_samples_next(&s, &w));

	assert_true(speedscope_profiles_next(&profiles, &p, &is_object) && is_object);
	assert_true(speedscope_samples_begin(&s, &p));
	assert_true(speedscope_samples_next(&s, &w));
	json_skip_value(&s.at);
	assert_false(speedscope_samples_next(&s, &w));
	assert_true(speedscope_samples_weights_left(&s));

	assert_true(speedscope_profiles_next(&profiles, &p, &is_object) && is_object);
	assert_true(speedscope_samples_begin(&s, &p));
	assert_false(s.have_weights);
	assert_true(speedscope_samples_next(&s, &w));
	json_skip_value(&s.at);
	assert_null(w.start);
	assert_false(s.weights_short);

	assert_true(speedscope_profiles_next(&profiles, &p, &is_object) && is_object);
	assert_false(speedscope_samples_begin(&s, &p));

	assert_true(speedscope_profiles_next(&profiles, &p, &is_object));
	assert_false(is_object);
	assert_null(p.samples.start);
	assert_false(speedscope_profiles_next(&profiles, &p, &is_object));
	speedscope_doc_close(&doc);
}

static void test_values(void **state)
{
	static const char json[] = "{\"name\":\"a\\u00e9\\ud83d\\ude00\\n\",\"exporter\":NaN,"
				   "\"bpfspy\":{\"unit\":\"s\\u0061mples\"}}";
	struct speedscope_doc doc;
	struct speedscope_bpfspy_fields b;
	char small[3];
	double d;

	open_ok(&doc, json, NULL);
	assert_text(doc.name, "a\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_true(speedscope_value_text(doc.name, small, sizeof(small)));
	assert_string_equal(small, "a\xc3");
	assert_true(speedscope_value_number(doc.exporter, &d) && d != d);
	assert_false(speedscope_value_number(doc.name, &d));
	assert_null(speedscope_value_strdup(doc.exporter));
	assert_int_equal(speedscope_value_kind(doc.shared), JSON_KIND_INVALID);
	assert_true(speedscope_bpfspy_read(doc.bpfspy, &b));
	assert_true(speedscope_value_is(b.unit, "samples"));
	assert_false(speedscope_bpfspy_read(doc.name, &b));
	assert_null(b.unit.start);
	speedscope_doc_close(&doc);
}

static void test_load(void **state)
{
	char path[] = "/tmp/speedscope_doc_XXXXXX", why[128];
	int fd = mkstemp(path);
	struct speedscope_bytes b;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(speedscope_bytes_load(path, true, &b, why, sizeof(why)), SPEEDSCOPE_LOAD_REFUSED);
	assert_string_equal(why, "empty file");
	assert_int_equal(speedscope_bytes_load(path, false, &b, why, sizeof(why)), SPEEDSCOPE_LOADED);
	assert_int_equal(b.len, 0);
	speedscope_bytes_release(&b);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{}", f);
	fclose(f);
	assert_int_equal(speedscope_bytes_load(path, true, &b, why, sizeof(why)), SPEEDSCOPE_LOADED);
	assert_true(b.mapped);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "{}", 2);
	speedscope_bytes_release(&b);
	unlink(path);

	assert_int_equal(speedscope_bytes_load("/dev/null", true, &b, why, sizeof(why)), SPEEDSCOPE_LOAD_REFUSED);
	assert_string_equal(why, "not a regular file");
	assert_int_equal(speedscope_bytes_load("/dev/null", false, &b, why, sizeof(why)), SPEEDSCOPE_LOADED);
	assert_false(b.mapped);
	speedscope_bytes_release(&b);
	assert_int_equal(speedscope_bytes_load(path, false, &b, why, sizeof(why)), SPEEDSCOPE_LOAD_FAILED);
	assert_non_null(strstr(why, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_duplicate_key_wins),
		cmocka_unit_test(test_not_json_and_not_an_object),
		cmocka_unit_test(test_latin1_fallback),
		cmocka_unit_test(test_samples_with_weights),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
