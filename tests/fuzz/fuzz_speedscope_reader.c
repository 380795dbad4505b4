/* libFuzzer harness: the speedscope reader as shipped (output/speedscope_doc.h),
 * through both model builders on it - the tool's (with its analysis and
 * report paths, and the latin-1 decoding) and `bpfspy convert`'s - must never
 * crash, leak or misbehave under ASan and UBSan on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis.h"
#include "output/speedscope_read.h"
#include "reader.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const packages[] = { "a", "site-packages", "", "a" };
	struct ss_read_options read_opts = { .events_as_samples = size & 1 };
	struct analysis_options opts = {
		.packages = packages,
		.npackages = 4,
		.by_weight = size & 1,
		.sample_stacks = true,
		.max_examples = 3,
		.name_filter = (size & 2) ? "<module>" : NULL,
		.filter_uniq = (size & 4) ? "a" : NULL,
		.most_frequent = size & 8,
	};
	struct speedscope ss;
	struct analysis a;
	char err[256];
	FILE *sink = fopen("/dev/null", "w");

	if (speedscope_read_buffer((const char *)data, size, &read_opts, &ss, err, sizeof(err)) == SS_OK &&
	    analysis_run(&ss, &opts, &a)) {
		if (sink) {
			report_summary(sink, &ss, &a, opts.by_weight);
			report_sample_stacks(sink, &ss, &a, opts.name_filter);
		}
		analysis_free(&a);
	}
	speedscope_free(&ss);
	if (sink)
		fclose(sink);
	profile_free(profile_read_speedscope((const char *)data, size, err, sizeof(err)));
	return 0;
}
