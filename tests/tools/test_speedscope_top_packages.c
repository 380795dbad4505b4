/* Tests for tools/speedscope_top_packages.
 *
 * Run from the repository root (make tools-unit does). Fixtures come from
 * $SHARED/fixtures/speedscope (SHARED defaults to ../shared); the binary
 * from $STP_BIN (default tools/speedscope_top_packages). Expected package
 * tables come from tests/tools/expected_top_packages.py, an independent
 * python3-stdlib computation, never from the tool's own output. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "reader.h"

/* The team's reference folder: extra fixtures when present, never required. */
static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");

	return s && *s ? s : "../shared";
}

/* Skips the calling test when the shared fixture is absent (a clone alone has tests/fixtures only). */
static void need_shared_fixture(const char *fx)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", shared_dir(), fx);
	if (access(path, R_OK) != 0) {
		print_message("skipped: %s not present\n", path);
		skip();
	}
}

static const char *tool_path(void)
{
	const char *s = getenv("STP_BIN");

	return s && *s ? s : "tools/speedscope_top_packages";
}

/* Runs a shell command; returns its stdout, sets its exit status. */
static char *run_capture(int *status, const char *fmt, ...)
{
	char *cmd, *out = NULL;
	size_t len = 0, cap = 0;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		size_t n = fread(out + len, 1, 4096, p);

		if (!n)
			break;
		len += n;
	}
	out[len] = '\0';
	int st = pclose(p);

	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	free(cmd);
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Trims the cells of a markdown row "| a | b |" into cells[]. */
static size_t split_row(const char *line, size_t len, char cells[][512], size_t max)
{
	size_t n = 0;
	const char *p = line + 1, *end = line + len;

	while (p < end && n < max) {
		const char *bar = memchr(p, '|', (size_t)(end - p));

		if (!bar)
			break;
		const char *a = p, *b = bar;

		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		snprintf(cells[n++], 512, "%.*s", (int)(b - a), a);
		p = bar + 1;
	}
	return n;
}

/* Finds the table row whose first cell is key; returns its cell count. */
static size_t find_row(const char *out, const char *key, char cells[][512], size_t max)
{
	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len && line[0] == '|') {
			size_t n = split_row(line, len, cells, max);

			if (n && strcmp(cells[0], key) == 0)
				return n;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* Every run of table lines has one width, and its second line is the
 * dash separator: the shape of a GitHub table. Returns the table count. */
static int check_table_shapes(const char *out)
{
	size_t width = 0, row = 0;
	int tables = 0;

	for (const char *line = out; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len && line[0] == '|') {
			if (row == 0) {
				width = utf8_chars(line, len);
				tables++;
			} else {
				assert_int_equal(utf8_chars(line, len), width);
			}
			if (row == 1)
				for (size_t i = 0; i < len; i++)
					assert_true(line[i] == '|' || line[i] == '-');
			row++;
		} else {
			row = 0;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return tables;
}

static const char *const test_packages[] = {
	"numpy", "importlib", "site-packages", "threading", "<module>", "python", "mlflow", "torch",
};

/* Every number of the metric and package tables, for every fixture,
 * against the independent stdlib computation. */
static void test_package_tables_match_independent_computation(void **state)
{
	char pattern[1024], pkgs[1024] = "";
	glob_t g;

	(void)state;
	for (size_t i = 0; i < sizeof(test_packages) / sizeof(test_packages[0]); i++) {
		strcat(pkgs, " '");
		strcat(pkgs, test_packages[i]);
		strcat(pkgs, "'");
	}
	/* the project's own fixtures (tests/fixtures, py-spy's and Austin's shapes), plus the shared ones if present */
	assert_int_equal(glob("tests/fixtures/speedscope/*.json", 0, NULL, &g), 0);
	snprintf(pattern, sizeof(pattern), "%s/fixtures/speedscope/*.json", shared_dir());
	glob(pattern, GLOB_APPEND, NULL, &g);
	assert_true(g.gl_pathc >= 2);
	for (size_t f = 0; f < g.gl_pathc; f++) {
		int st_tool, st_py;
		char *out = run_capture(&st_tool, "%s '%s' -p%s", tool_path(), g.gl_pathv[f], pkgs);
		char *exp = run_capture(&st_py, "python3 tests/tools/expected_top_packages.py '%s'%s",
					g.gl_pathv[f], pkgs);
		char cells[8][512], ecells[8][512];
		size_t lineno = 0;

		print_message("fixture %s\n", g.gl_pathv[f]);
		assert_int_equal(st_tool, 0);
		assert_int_equal(st_py, 0);
		assert_int_equal(check_table_shapes(out), 2);
		for (char *line = strtok(exp, "\n"); line; line = strtok(NULL, "\n"), lineno++) {
			size_t n = 0;

			for (char *field = line, *tab; field && n < 8; field = tab ? tab + 1 : NULL) {
				tab = strchr(field, '\t');
				snprintf(ecells[n++], 512, "%.*s", tab ? (int)(tab - field) : (int)strlen(field), field);
			}
			if (lineno == 0) {
				assert_int_equal(find_row(out, "frames_count", cells, 8), 2);
				assert_string_equal(cells[1], ecells[1]);
				assert_int_equal(find_row(out, "total_samples", cells, 8), 2);
				assert_string_equal(cells[1], ecells[3]);
				continue;
			}
			assert_int_equal(find_row(out, ecells[0], cells, 8), 4);
			assert_string_equal(cells[1], ecells[1]);
			assert_string_equal(cells[2], ecells[2]);
			assert_string_equal(cells[3], n > 3 ? ecells[3] : "");
		}
		assert_int_equal(lineno, 1 + sizeof(test_packages) / sizeof(test_packages[0]));
		free(out);
		free(exp);
	}
	globfree(&g);
}

/* The seed's three tool command lines print the seed's table shapes. */
static void test_seed_command_shapes(void **state)
{
	const char *fx = "fixtures/speedscope/deepdrr.speedscope.json";
	int st;
	char *out;

	(void)state;
	need_shared_fixture(fx);
	out = run_capture(&st, "%s %s/%s -p deepdrr numpy torch importlib", tool_path(), shared_dir(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2);
	assert_non_null(strstr(out, "| metric        |   value |\n|---------------|---------|\n"
				    "| frames_count  |    1251 |\n| total_samples |     960 |\n\n"));
	assert_non_null(strstr(out, "| package   |   samples | pct   | top_files "));
	free(out);

	out = run_capture(&st, "%s %s/%s -p deepdrr numpy torch --sample-stacks --max-examples 2 "
			       "--name-filter '<module>'", tool_path(), shared_dir(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2 + 3); /* one stack table per package */
	assert_non_null(strstr(out, "\nSample stacks for package: deepdrr\n| # | pct total | pct package | stack "));
	assert_non_null(strstr(out, "\n| 2 | "));
	assert_null(strstr(out, "\n| 3 | "));
	assert_non_null(strstr(out, "\n|   |           |             | <module> ("));
	free(out);

	out = run_capture(&st, "%s %s/%s -p deepdrr numpy --sample-stacks --max-examples 5 "
			       "--name-filter '<module>' --filter-uniq 'numpy/__init__.py'", tool_path(), shared_dir(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2 + 2);
	assert_non_null(strstr(out, "\n| 5 | "));
	free(out);
}

/* The seed's command shapes on the project's own py-spy-shaped fixture (always present). */
static void test_seed_command_shapes_own_fixture(void **state)
{
	const char *fx = "tests/fixtures/speedscope/pyspy_pytest_startup.speedscope.json";
	int st;
	char *out;

	(void)state;
	out = run_capture(&st, "%s %s -p numpy torch mlflow importlib", tool_path(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2);
	assert_non_null(strstr(out, "| metric        |   value |\n|---------------|---------|\n"
				    "| frames_count  |    1239 |\n| total_samples |     860 |\n\n"));
	free(out);
	out = run_capture(&st, "%s %s -p torch numpy --sample-stacks --max-examples 2 --name-filter '<module>'",
			  tool_path(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2 + 2);
	assert_non_null(strstr(out, "\nSample stacks for package: torch\n| # | pct total | pct package | stack "));
	assert_non_null(strstr(out, "\n|   |           |             | <module> ("));
	free(out);
}

static void expect_failure(const char *json, int want_status, const char *stderr_word)
{
	char path[] = "/tmp/stp_test_XXXXXX";
	int fd = mkstemp(path), st;
	char *out, *err;

	assert_true(fd >= 0);
	close(fd);
	write_file(path, json);
	out = run_capture(&st, "%s %s -p x 2>%s.err", tool_path(), path, path);
	assert_int_equal(st, want_status);
	assert_string_equal(out, "");
	err = run_capture(&st, "cat %s.err", path);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, stderr_word));
	free(out);
	free(err);
	unlink(path);
	char err_path[sizeof(path) + 4];
	snprintf(err_path, sizeof(err_path), "%s.err", path);
	unlink(err_path);
}

static void test_bad_input_exit_codes(void **state)
{
	char deep[20000];

	(void)state;
	expect_failure("", 1, "invalid JSON");
	expect_failure("{\"shared\":", 1, "invalid JSON at line 1 column 11");
	expect_failure("{\"shared\":{\"frames\":[1,]}}", 1, "invalid JSON");
	expect_failure("[1,2,3]", 1, "not an object");
	expect_failure("{\"profiles\":[]}", 1, "no frames");
	expect_failure("{\"shared\":{\"frames\":[]},\"profiles\":[{\"samples\":[[0]]}]}", 1, "no frames");
	expect_failure("{\"shared\":{\"frames\":{\"a\":1}}}", 1, "frames is not a JSON array");
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	expect_failure(deep, 1, "invalid JSON");
}

static void test_odd_samples_are_skipped_not_fatal(void **state)
{
	char path[] = "/tmp/stp_test_XXXXXX";
	int fd = mkstemp(path), st;
	char *out, cells[8][512];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* Indices out of range, negative, null, strings and nested lists are
	 * skipped like the reference's int()/range checks; a bare number is a
	 * one-frame sample; an empty profile adds nothing. */
	write_file(path, "{\"shared\":{\"frames\":[{\"name\":\"alpha\",\"file\":\"/a/alpha.py\",\"line\":1},"
			 "{\"name\":\"beta\",\"file\":\"/b/beta.py\"}]},\"profiles\":["
			 "{\"samples\":[[0,1],[99,-1,null,[0],\"1\"],1,[]]},{\"samples\":[]},{}]}");
	out = run_capture(&st, "%s %s -p alpha beta gamma", tool_path(), path);
	assert_int_equal(st, 0);
	assert_int_equal(find_row(out, "total_samples", cells, 8), 2);
	assert_string_equal(cells[1], "4");
	assert_int_equal(find_row(out, "alpha", cells, 8), 4);
	assert_string_equal(cells[1], "1");
	assert_string_equal(cells[2], "25.0%");
	assert_string_equal(cells[3], "alpha.py (1), beta.py (1)");
	assert_int_equal(find_row(out, "beta", cells, 8), 4);
	assert_string_equal(cells[1], "3"); /* [0,1], ["1"], 1 */
	assert_string_equal(cells[3], "beta.py (3), alpha.py (1)");
	assert_int_equal(find_row(out, "gamma", cells, 8), 4);
	assert_string_equal(cells[1], "0");
	assert_string_equal(cells[2], "0.0%");
	assert_string_equal(cells[3], "");
	free(out);
	unlink(path);
}

static void test_usage_errors(void **state)
{
	int st;
	char *out;

	(void)state;
	out = run_capture(&st, "%s /dev/null 2>/dev/null", tool_path());
	assert_int_equal(st, 2);
	free(out);
	out = run_capture(&st, "%s -p x 2>/dev/null", tool_path());
	assert_int_equal(st, 2);
	free(out);
	out = run_capture(&st, "%s /dev/null -p x --max-examples two 2>/dev/null", tool_path());
	assert_int_equal(st, 2);
	free(out);
	out = run_capture(&st, "%s /dev/null -p x --bogus 2>/dev/null", tool_path());
	assert_int_equal(st, 2);
	free(out);
	out = run_capture(&st, "%s /nonexistent/file.json -p x 2>/dev/null", tool_path());
	assert_int_equal(st, 1);
	free(out);
	out = run_capture(&st, "%s --help", tool_path());
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "--by-weight"));
	assert_non_null(strstr(out, "--most-frequent"));
	assert_non_null(strstr(out, "--auto"));
	free(out);
}

/* austin_python has uneven weights: --by-weight must sum them. */
static void test_by_weight_sums_weights(void **state)
{
	int st;
	char *out, *exp, cells[8][512];

	(void)state;
	need_shared_fixture("fixtures/speedscope/austin_python.speedscope.json");
	exp = run_capture(&st, "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
			       "print(\"%%.0f\" %% sum(w for p in d[\"profiles\"] for w in p.get(\"weights\", [])))' "
			       "%s/fixtures/speedscope/austin_python.speedscope.json", shared_dir());
	assert_int_equal(st, 0);
	exp[strcspn(exp, "\n")] = '\0';
	out = run_capture(&st, "%s %s/fixtures/speedscope/austin_python.speedscope.json -p threading --by-weight",
			  tool_path(), shared_dir());
	assert_int_equal(st, 0);
	assert_int_equal(find_row(out, "total_weight", cells, 8), 2);
	assert_string_equal(cells[1], exp);
	free(out);
	free(exp);
}

static void test_most_frequent_and_auto(void **state)
{
	int st;
	char *out, cells[8][512];
	const char *fx = "fixtures/speedscope/deepdrr.speedscope.json";

	(void)state;
	need_shared_fixture(fx);
	out = run_capture(&st, "%s %s/%s -p deepdrr --sample-stacks --max-examples 1 --most-frequent",
			  tool_path(), shared_dir(), fx);
	assert_int_equal(st, 0);
	/* the most frequent full stack of deepdrr, counted independently */
	char *exp = run_capture(&st, "python3 -c 'import json,sys,collections; d=json.load(open(sys.argv[1])); "
				     "fr=d[\"shared\"][\"frames\"]; c=collections.Counter(tuple(s) for p in d[\"profiles\"] "
				     "for s in p[\"samples\"] if \"deepdrr\" in \" \".join([fr[i][\"name\"] for i in s]+[fr[i][\"file\"] for i in s])); "
				     "n=c.most_common(1)[0][1]; print(\"%%.1f%%%%\" %% (100.0*n/sum(c.values())))' %s/%s",
				     shared_dir(), fx);
	exp[strcspn(exp, "\n")] = '\0';
	assert_int_equal(find_row(out, "1", cells, 8), 4);
	assert_string_equal(cells[2], exp);
	free(exp);
	free(out);

	out = run_capture(&st, "%s %s/%s --auto --max-packages 5", tool_path(), shared_dir(), fx);
	assert_int_equal(st, 0);
	assert_int_equal(check_table_shapes(out), 2);
	assert_int_equal(find_row(out, "importlib", cells, 8), 4);
	free(out);
}

static void test_reader_evented_and_duplicates(void **state)
{
	/* Two O/C events bracket 10 time units of "a" and 5 of "a;b"; the
	 * duplicate "frames" key keeps the last value, as Python's json does. */
	static const char doc[] =
		"{\"shared\":{\"frames\":[{\"name\":\"x\"}],\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
		"\"profiles\":[{\"type\":\"evented\",\"events\":["
		"{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":10},"
		"{\"type\":\"C\",\"frame\":1,\"at\":15},{\"type\":\"C\",\"frame\":0,\"at\":15}]}]}";
	struct ss_read_options opts = { .events_as_samples = true };
	struct speedscope ss;
	char err[256];
	size_t len;

	(void)state;
	assert_int_equal(speedscope_read_buffer(doc, sizeof(doc) - 1, &opts, &ss, err, sizeof(err)), SS_OK);
	assert_int_equal(ss.nframes, 2);
	assert_int_equal(ss.stacks.count, 2);
	assert_true(ss.total_weight == 15.0);
	seq_table_get(&ss.stacks, 1, &len);
	assert_int_equal(len, 2);
	assert_true(ss.stack_weight[1] == 5.0);
	speedscope_free(&ss);

	/* The reference ignores events: without the option there are no samples. */
	assert_int_equal(speedscope_read_buffer(doc, sizeof(doc) - 1, NULL, &ss, err, sizeof(err)), SS_OK);
	assert_int_equal(ss.total_samples, 0);
	speedscope_free(&ss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_package_tables_match_independent_computation),
		cmocka_unit_test(test_seed_command_shapes),
		cmocka_unit_test(test_seed_command_shapes_own_fixture),
		cmocka_unit_test(test_bad_input_exit_codes),
		cmocka_unit_test(test_odd_samples_are_skipped_not_fatal),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_by_weight_sums_weights),
		cmocka_unit_test(test_most_frequent_and_auto),
		cmocka_unit_test(test_reader_evented_and_duplicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
