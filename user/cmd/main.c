// SPDX-License-Identifier: MIT
/* bpfspy: eBPF sampling profiler for Python and native code. */
#include <stdio.h>
#include <string.h>

#include "cmd/convert.h"
#include "dump/dump.h"
#include "cmd/record.h"
#include "top/top.h"
#include "util/heap_pages.h"
#include "util/version.h"


static void usage(FILE *f)
{
	fputs("Usage: bpfspy COMMAND [OPTIONS]\n"
	      "\n"
	      "An eBPF sampling profiler for Python (CPython 3.8-3.15) and native code.\n"
	      "Stacks are sampled in the kernel: the target is never paused or ptraced.\n"
	      "\n"
	      "Commands:\n"
	      "  record    record a profile: speedscope, collapsed stacks, flame graph SVG, pprof\n"
	      "  top       live view of the functions using the most CPU time\n"
	      "  dump      print the Python stack of every thread of a running process\n"
	      "  convert   convert a recorded speedscope file to another format\n"
	      "\n"
	      "Run 'bpfspy COMMAND --help' for a command's options. Examples:\n"
	      "  sudo bpfspy record -o out.json -- python3 -m pytest --collect-only\n"
	      "  sudo bpfspy record -p 1234 -d 10\n"
	      "  sudo bpfspy top -- python3 app.py\n"
	      "  sudo bpfspy dump -p 1234\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       this help\n"
	      "  -V, --version    print the version\n",
	      f);
}

int main(int argc, char **argv)
{
	heap_prefer_huge_pages();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("bpfspy %s\n", BPFSPY_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return cmd_convert(argc - 1, argv + 1);
	fprintf(stderr, "bpfspy: unknown command '%s' (see bpfspy --help)\n", cmd);
	return 2;
}
