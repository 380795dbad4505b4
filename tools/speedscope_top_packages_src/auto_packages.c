#include "auto_packages.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The first path component of start, without a module suffix
 * (".py", ".cpython-312-x86_64-linux-gnu.so", ...). */
static size_t component(const char *start, char *buf, size_t bufsize)
{
	size_t n = strcspn(start, "/");
	const char *dot = memchr(start, '.', n);

	if (dot && start[n] == '\0')
		n = (size_t)(dot - start);
	if (n == 0 || n >= bufsize || (start[0] == '_' && start[1] == '_'))
		return 0;
	memcpy(buf, start, n);
	buf[n] = '\0';
	return n;
}

static bool is_python_dir(const char *s, size_t n)
{
	/* "python3" or "python3.12" */
	if (n < 7 || strncmp(s, "python", 6) != 0)
		return false;
	for (size_t i = 6; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '.')
			return false;
	return true;
}

size_t auto_package_of(const char *path, char *buf, size_t bufsize)
{
	static const char *const site_dirs[] = { "/site-packages/", "/dist-packages/" };
	const char *hit = NULL, *p;

	if (strncmp(path, "<frozen ", 8) == 0) {
		size_t n = strcspn(path + 8, ".>");

		if (n == 0 || n >= bufsize)
			return 0;
		memcpy(buf, path + 8, n);
		buf[n] = '\0';
		return n;
	}
	for (size_t i = 0; i < sizeof(site_dirs) / sizeof(site_dirs[0]); i++) {
		const char *q = path;

		/* The last occurrence wins: virtualenvs nest inside other trees. */
		while ((q = strstr(q, site_dirs[i]))) {
			if (!hit || q > hit)
				hit = q + strlen(site_dirs[i]);
			q++;
		}
	}
	if (hit)
		return component(hit, buf, bufsize);
	/* stdlib: .../lib/pythonX.Y/<module> */
	for (p = strstr(path, "/lib/python"); p; p = strstr(p + 1, "/lib/python")) {
		const char *dir = p + 5;
		size_t n = strcspn(dir, "/");

		if (dir[n] == '/' && is_python_dir(dir, n)) {
			const char *mod = dir + n + 1;

			if (strncmp(mod, "lib-dynload/", 12) == 0)
				mod += 12;
			return component(mod, buf, bufsize);
		}
	}
	return 0;
}
