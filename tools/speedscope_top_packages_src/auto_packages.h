/* --auto: the top-level Python package a frame's file belongs to, read from
 * the path (site-packages/dist-packages, the stdlib directory, frozen
 * modules). */
#ifndef SPEEDSCOPE_AUTO_PACKAGES_H
#define SPEEDSCOPE_AUTO_PACKAGES_H

#include <stddef.h>

/* Writes the package name for path into buf and returns its length, or 0
 * when the path is not in a recognised package location. */
size_t auto_package_of(const char *path, char *buf, size_t bufsize);

#endif
