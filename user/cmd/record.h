/* SPDX-License-Identifier: MIT */
#ifndef BPFSPY_RECORD_H
#define BPFSPY_RECORD_H

/* `bpfspy record ...`: argv[0] is "record". Returns the process exit code. */
int cmd_record(int argc, char **argv);

#endif
