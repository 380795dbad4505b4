/* SPDX-License-Identifier: MIT */
/* bpfspy's version: `--version`, and the "exporter" the JSON writers name. */
#ifndef BPFSPY_VERSION_H
#define BPFSPY_VERSION_H

#define BPFSPY_VERSION "0.1.0"
#define BPFSPY_EXPORTER "bpfspy@" BPFSPY_VERSION

#endif
