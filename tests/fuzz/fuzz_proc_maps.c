// SPDX-License-Identifier: MIT
/* libFuzzer harness: /proc/PID/maps text, as one line and as a whole buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/native_symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	struct proc_map m;
	if (proc_maps_parse_line(line, &m) == 0)
		free(m.path);
	free(line);

	/* the buffer parser gets the bytes unterminated: it must stay within size */
	struct proc_maps *maps = proc_maps_parse_buffer((const char *)data, size);
	if (maps) {
		for (size_t i = 0; i < maps->n; i++)
			proc_maps_find(maps, maps->maps[i].start);
		proc_maps_find(maps, 0x7f0000000000ull);
		proc_maps_free(maps);
	}
	return 0;
}
