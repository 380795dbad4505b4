/* speedscope_top_packages: which packages cost the samples of a speedscope
 * profile, and example stacks for them. Table-compatible with interpretune's
 * scripts/speedscope_top_packages.py; see tools/README.md. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "auto_packages.h"
#include "reader.h"
#include "report.h"
#include "util/invoking_user.h"

#define PROG "speedscope_top_packages"
#define EXIT_USAGE 2

struct cli {
	const char *file;
	const char **packages;
	size_t npackages;
	bool sample_stacks, by_weight, most_frequent, auto_packages;
	long max_examples, max_packages;
	const char *name_filter, *filter_uniq;
};

static const char usage_line[] =
	"usage: " PROG " [-h] -p PKG [PKG ...] [--sample-stacks] [--name-filter STR]\n"
	"       [--max-examples N] [--filter-uniq STR] [--by-weight] [--most-frequent]\n"
	"       [--auto [--max-packages N]] FILE\n";

static void print_help(void)
{
	fputs(usage_line, stdout);
	fputs("\n"
	      "Summarise which packages cost the samples of a speedscope JSON profile\n"
	      "(bpfspy, py-spy, Austin, ...). Samples from every profile in the file are\n"
	      "pooled. A sample counts once for a package when the package string is a\n"
	      "case-sensitive substring of the sample's frame names and file paths joined\n"
	      "by spaces.\n"
	      "\n"
	      "positional arguments:\n"
	      "  FILE                  speedscope-format JSON file\n"
	      "\n"
	      "options:\n"
	      "  -h, --help            show this help and exit\n"
	      "  -p, --packages PKG [PKG ...]\n"
	      "                        package name substrings to look for (required unless\n"
	      "                        --auto)\n"
	      "  --sample-stacks       also print example stacks per package, with columns\n"
	      "                        '#', 'pct total' (share of all samples, two decimals,\n"
	      "                        '< 0.01%' when tiny), 'pct package' (share of the\n"
	      "                        package's samples) and 'stack' (root first)\n"
	      "  --name-filter STR     in example stacks keep only frames whose name equals\n"
	      "                        STR or whose file contains it (e.g. '<module>')\n"
	      "  --max-examples N      example stacks per package (default 5): the first N\n"
	      "                        distinct stacks met in time order, sorted by count\n"
	      "  --filter-uniq STR     group example stacks by their lines containing STR\n"
	      "                        (the whole stack when no line does)\n"
	      "\n"
	      "extensions (not in the reference script):\n"
	      "  --by-weight           count sample weights instead of sample entries (right\n"
	      "                        for time-weighted profiles such as bpfspy --idle);\n"
	      "                        evented profiles (O/C events) then count as samples\n"
	      "                        weighted by the time between events\n"
	      "  --most-frequent       show the N most frequent example stacks instead of\n"
	      "                        the first N met\n"
	      "  --auto                no -p: rank the top-level packages found in\n"
	      "                        site-packages, dist-packages and stdlib paths (a\n"
	      "                        sample counts for a package when one of its frames'\n"
	      "                        files lies in it)\n"
	      "  --max-packages N      with --auto, how many packages to list (default 20,\n"
	      "                        0 = all)\n"
	      "\n"
	      "Tables are GitHub markdown. Exit status: 0 success, 1 unreadable file,\n"
	      "invalid JSON or no frames, 2 usage error.\n",
	      stdout);
}

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
	fputs(usage_line, stderr);
	fprintf(stderr, PROG ": error: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static long parse_int_arg(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (errno || end == s || *end) {
		fputs(usage_line, stderr);
		fprintf(stderr, PROG ": error: argument %s: invalid int value: '%s'\n", opt, s);
		exit(EXIT_USAGE);
	}
	return v;
}

struct option_def {
	const char *name;
	bool takes_value;
};

static const struct option_def options[] = {
	{ "--help", false },        { "--packages", true },  { "--sample-stacks", false },
	{ "--name-filter", true },  { "--max-examples", true }, { "--filter-uniq", true },
	{ "--by-weight", false },   { "--most-frequent", false }, { "--auto", false },
	{ "--max-packages", true },
};

/* Long options may be abbreviated to a unique prefix, as argparse allows. */
static const char *resolve_long(const char *arg, size_t len)
{
	const char *found = NULL;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strlen(options[i].name) == len && strncmp(options[i].name, arg, len) == 0)
			return options[i].name;
		if (strncmp(options[i].name, arg, len) == 0) {
			if (found) {
				char buf[256];

				snprintf(buf, sizeof(buf), "%.*s", (int)len, arg);
				usage_error("ambiguous option: %s", buf);
			}
			found = options[i].name;
		}
	}
	return found;
}

static bool looks_like_option(const char *s)
{
	if (s[0] != '-' || s[1] == '\0')
		return false;
	/* argparse treats "-5" as a value, not an option */
	char *end;

	strtod(s, &end);
	return *end != '\0';
}

static void parse_cli(int argc, char **argv, struct cli *cli)
{
	bool only_positionals = false, have_packages = false;

	memset(cli, 0, sizeof(*cli));
	cli->max_examples = 5;
	cli->max_packages = 20;
	cli->packages = calloc((size_t)argc + 1, sizeof(*cli->packages));
	if (!cli->packages) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *value = NULL, *eq;

		if (only_positionals || !looks_like_option(arg)) {
			if (cli->file)
				usage_error("unrecognized arguments: %s", arg);
			cli->file = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_positionals = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			name = "--help";
		} else if (strncmp(arg, "-p", 2) == 0 && arg[1] == 'p') {
			name = "--packages";
			if (arg[2])
				value = arg + 2;
		} else if (arg[1] == '-') {
			eq = strchr(arg, '=');
			name = resolve_long(arg, eq ? (size_t)(eq - arg) : strlen(arg));
			if (!name)
				usage_error("unrecognized arguments: %s", arg);
			if (eq)
				value = eq + 1;
		} else {
			usage_error("unrecognized arguments: %s", arg);
		}
		if (strcmp(name, "--help") == 0) {
			print_help();
			exit(0);
		}
		if (strcmp(name, "--packages") == 0) {
			/* nargs="+": this value (if attached) and every following
			 * non-option argument; a repeated -p replaces the list */
			cli->npackages = 0;
			have_packages = true;
			if (value)
				cli->packages[cli->npackages++] = value;
			while (i + 1 < argc && !looks_like_option(argv[i + 1]) && strcmp(argv[i + 1], "--"))
				cli->packages[cli->npackages++] = argv[++i];
			if (!cli->npackages)
				usage_error("argument -p/--packages: expected at least one argument%s", "");
			continue;
		}
		bool takes_value = false;

		for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++)
			if (strcmp(options[k].name, name) == 0)
				takes_value = options[k].takes_value;
		if (takes_value && !value) {
			if (i + 1 >= argc || looks_like_option(argv[i + 1]))
				usage_error("argument %s: expected one argument", name);
			value = argv[++i];
		} else if (!takes_value && value) {
			usage_error("argument %s: ignored explicit argument", name);
		}
		if (strcmp(name, "--sample-stacks") == 0)
			cli->sample_stacks = true;
		else if (strcmp(name, "--by-weight") == 0)
			cli->by_weight = true;
		else if (strcmp(name, "--most-frequent") == 0)
			cli->most_frequent = true;
		else if (strcmp(name, "--auto") == 0)
			cli->auto_packages = true;
		else if (strcmp(name, "--name-filter") == 0)
			cli->name_filter = value;
		else if (strcmp(name, "--filter-uniq") == 0)
			cli->filter_uniq = value;
		else if (strcmp(name, "--max-examples") == 0)
			cli->max_examples = parse_int_arg(name, value);
		else if (strcmp(name, "--max-packages") == 0)
			cli->max_packages = parse_int_arg(name, value);
	}
	if (cli->auto_packages && have_packages)
		usage_error("argument --auto: not allowed with argument -p/--packages%s", "");
	if (!cli->auto_packages && !have_packages && !cli->file)
		usage_error("the following arguments are required: FILE, -p/--packages%s", "");
	if (!cli->auto_packages && !have_packages)
		usage_error("the following arguments are required: -p/--packages%s", "");
	if (!cli->file)
		usage_error("the following arguments are required: FILE%s", "");
}

struct auto_candidate {
	char name[256];
	double value;
};

/* --auto: names the package of every file, ranks packages by the samples
 * whose stacks touch them, and maps files to the kept packages. */
static bool choose_auto_packages(const struct speedscope *ss, const struct cli *cli,
				 char ***names_out, size_t *nnames_out, uint32_t **file_package_out)
{
	struct auto_candidate *cands = calloc(ss->nfiles + 1, sizeof(*cands));
	uint32_t *file_cand = calloc(ss->nfiles + 1, sizeof(*file_cand));
	uint32_t *file_package = calloc(ss->nfiles + 1, sizeof(*file_package));
	size_t *stamp = NULL, *order = NULL, ncands = 0, nkeep;
	bool ok = false;

	if (!cands || !file_cand || !file_package)
		goto out;
	for (size_t f = 0; f < ss->nfiles; f++) {
		char name[256];
		size_t c;

		file_cand[f] = UINT32_MAX;
		if (!auto_package_of(ss->files[f], name, sizeof(name)))
			continue;
		for (c = 0; c < ncands; c++)
			if (strcmp(cands[c].name, name) == 0)
				break;
		if (c == ncands)
			snprintf(cands[ncands++].name, sizeof(cands[0].name), "%s", name);
		file_cand[f] = (uint32_t)c;
	}
	stamp = calloc(ncands + 1, sizeof(*stamp));
	order = calloc(ncands + 1, sizeof(*order));
	if (!stamp || !order)
		goto out;
	for (size_t sid = 0; sid < ss->stacks.count; sid++) {
		size_t len;
		const uint32_t *seq = seq_table_get(&ss->stacks, sid, &len);
		double v = cli->by_weight ? ss->stack_weight[sid] : (double)ss->stack_samples[sid];

		for (size_t k = 0; k < len; k++) {
			uint32_t fid = ss->frames[seq[k]].file_id;
			uint32_t c = fid == SS_NO_FILE ? UINT32_MAX : file_cand[fid];

			if (c != UINT32_MAX && stamp[c] != sid + 1) {
				stamp[c] = sid + 1;
				cands[c].value += v;
			}
		}
	}
	/* insertion sort: stable, and candidate lists are short */
	for (size_t i = 0; i < ncands; i++) {
		size_t j = i;

		while (j > 0 && cands[order[j - 1]].value < cands[i].value) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	nkeep = cli->max_packages > 0 && (size_t)cli->max_packages < ncands ? (size_t)cli->max_packages : ncands;
	while (nkeep > 0 && cands[order[nkeep - 1]].value <= 0)
		nkeep--;
	*nnames_out = nkeep;
	*names_out = calloc(nkeep + 1, sizeof(**names_out));
	if (!*names_out)
		goto out;
	for (size_t i = 0; i < nkeep; i++) {
		(*names_out)[i] = strdup(cands[order[i]].name);
		if (!(*names_out)[i])
			goto out;
	}
	for (size_t f = 0; f < ss->nfiles; f++) {
		file_package[f] = UINT32_MAX;
		for (size_t i = 0; i < nkeep && file_cand[f] != UINT32_MAX; i++)
			if (order[i] == file_cand[f])
				file_package[f] = (uint32_t)i;
	}
	*file_package_out = file_package;
	file_package = NULL;
	ok = true;
out:
	free(cands);
	free(file_cand);
	free(file_package);
	free(stamp);
	free(order);
	return ok;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct speedscope ss;
	struct analysis a;
	struct ss_read_options read_opts = { 0 };
	struct analysis_options opts = { 0 };
	uint32_t *file_package = NULL;
	char **auto_names = NULL;

	/* reading a profile needs no privileges: under sudo, read and write only as the user */
	if (invoking_user_drop() != 0) {
		fprintf(stderr, PROG ": cannot drop to the invoking user: %s\n", strerror(errno));
		return 1;
	}
	size_t nauto_names = 0;
	char err[512];
	int rc = 0;

	parse_cli(argc, argv, &cli);
	read_opts.events_as_samples = cli.by_weight;
	if (speedscope_read_file(cli.file, &read_opts, &ss, err, sizeof(err)) != SS_OK) {
		fprintf(stderr, PROG ": %s: %s\n", cli.file, err);
		speedscope_free(&ss);
		free(cli.packages);
		return 1;
	}
	/* the reference script skips these silently; say so, keep its tables */
	if (ss.skipped_indices)
		fprintf(stderr, PROG ": %s: warning: ignored %llu sample entries that are not a frame index in "
				"0..%zu\n", cli.file, (unsigned long long)ss.skipped_indices,
			ss.nframes ? ss.nframes - 1 : 0);
	if (ss.weights_mismatched)
		fprintf(stderr, PROG ": %s: warning: %llu profile(s) have fewer weights than samples "
				"(missing weights count as 0)\n", cli.file, (unsigned long long)ss.weights_mismatched);
	opts.packages = cli.packages;
	opts.npackages = cli.npackages;
	opts.by_weight = cli.by_weight;
	opts.sample_stacks = cli.sample_stacks;
	opts.max_examples = cli.max_examples;
	opts.name_filter = cli.name_filter;
	opts.filter_uniq = cli.filter_uniq;
	opts.most_frequent = cli.most_frequent;
	if (cli.auto_packages) {
		if (!choose_auto_packages(&ss, &cli, &auto_names, &nauto_names, &file_package))
			goto nomem;
		opts.packages = (const char *const *)auto_names;
		opts.npackages = nauto_names;
		opts.file_package = file_package;
	}
	if (!analysis_run(&ss, &opts, &a))
		goto nomem;
	if (!report_summary(stdout, &ss, &a, cli.by_weight) ||
	    (cli.sample_stacks && !report_sample_stacks(stdout, &ss, &a, cli.name_filter)))
		rc = 1;
	analysis_free(&a);
	goto done;
nomem:
	fprintf(stderr, PROG ": out of memory\n");
	rc = 1;
done:
	if (auto_names)
		for (size_t i = 0; i < nauto_names; i++)
			free(auto_names[i]);
	free(auto_names);
	free(file_package);
	free(cli.packages);
	speedscope_free(&ss);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
