// SPDX-License-Identifier: MIT
#include "sym/elf_minidebuginfo.h"

#include <errno.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>

#include "sym/elf_reader.h"

/* Real MiniDebugInfo is a few MB at most; a bomb stops here. */
#define MAX_DECOMPRESSED (256u << 20)
#define DECODER_MEMLIMIT (128u << 20)

int elf_minidebuginfo_read(Elf *elf, char **image, size_t *size)
{
	GElf_Shdr sh;
	Elf_Scn *scn = elf_reader_find_section(elf, ".gnu_debugdata", &sh);
	Elf_Data *data = scn ? elf_reader_section_data(elf, scn) : NULL;

	*image = NULL;
	*size = 0;
	if (!data || !data->d_buf || !data->d_size)
		return -ENOENT;

	lzma_stream strm = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&strm, DECODER_MEMLIMIT, 0) != LZMA_OK)
		return -ENOMEM;
	size_t cap = data->d_size * 4 > 65536 ? data->d_size * 4 : 65536;
	char *out = malloc(cap);
	int ret = out ? -EINVAL : -ENOMEM;
	strm.next_in = data->d_buf;
	strm.avail_in = data->d_size;
	while (out) {
		if (strm.total_out == cap) {
			char *grown = cap < MAX_DECOMPRESSED ? realloc(out, cap * 2) : NULL;
			if (!grown) {
				ret = cap < MAX_DECOMPRESSED ? -ENOMEM : -EINVAL;
				break;
			}
			out = grown;
			cap *= 2;
		}
		strm.next_out = (uint8_t *)out + strm.total_out;
		strm.avail_out = cap - strm.total_out;
		lzma_ret r = lzma_code(&strm, LZMA_FINISH);
		if (r == LZMA_STREAM_END) {
			*image = out;
			*size = strm.total_out;
			out = NULL;
			ret = 0;
			break;
		}
		if (r != LZMA_OK && r != LZMA_BUF_ERROR)
			break;
		if (r == LZMA_BUF_ERROR && strm.avail_out) /* input ended before the stream did */
			break;
	}
	free(out);
	lzma_end(&strm);
	return ret;
}
