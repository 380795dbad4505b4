/* SPDX-License-Identifier: MIT */
#ifndef BPFSPY_CONVERT_H
#define BPFSPY_CONVERT_H

/* `bpfspy convert IN.json -f FORMAT -o OUT`: argv[0] is "convert". Returns the exit code. */
int cmd_convert(int argc, char **argv);

#endif
