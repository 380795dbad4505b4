// SPDX-License-Identifier: MIT
#include "helpers/pyenv_path.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOUND 64

/* Paths handed out live until exit; freeing them there (rather than only
 * keeping them in a static array the optimizer may drop as write-only) keeps
 * valgrind's leak check exact. */
static char *found[MAX_FOUND];
static int nfound;

static void free_found(void)
{
	while (nfound > 0)
		free(found[--nfound]);
}

static const char *pyenv_root(void)
{
	static char home_root[4096];
	const char *root = getenv("PYENV_ROOT"), *home = getenv("HOME");

	if (root && *root)
		return root;
	if (home && *home) {
		snprintf(home_root, sizeof(home_root), "%s/.pyenv", home);
		return home_root;
	}
	return "/root/.pyenv";
}

/* "3.12.4" for minor "3.12": the minor, a dot, then digits only (no "3.12.1t" or "3.12-dev"). */
static int is_release_of(const char *name, const char *minor)
{
	size_t n = strlen(minor);

	if (strncmp(name, minor, n) || name[n] != '.' || !name[n + 1])
		return 0;
	for (const char *p = name + n + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

const char *pyenv_find(const char *minor, const char *rel)
{
	char dir[4200], best[256] = "";
	snprintf(dir, sizeof(dir), "%s/versions", pyenv_root());
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return NULL;
	while ((e = readdir(d)))
		if (is_release_of(e->d_name, minor) && (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	if (!best[0] || nfound == MAX_FOUND)
		return NULL;
	char *path = NULL;
	if (asprintf(&path, "%s/%s/%s", dir, best, rel) < 0)
		return NULL;
	if (!nfound)
		atexit(free_found);
	found[nfound++] = path;
	return path;
}
