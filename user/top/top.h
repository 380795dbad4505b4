/* SPDX-License-Identifier: MIT */
/* `bpfspy top`: a live, full-screen view of the functions using the most CPU. */
#ifndef BPFSPY_TOP_H
#define BPFSPY_TOP_H

int cmd_top(int argc, char **argv);

#endif
