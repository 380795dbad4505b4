/* SPDX-License-Identifier: MIT */
/*
 * Where the recorder's samples go. The recorder turns the sampler's records
 * into samples (frames named and interned in the profile, names, process
 * events) and hands each finished sample to a sink:
 *
 *   - `record` keeps every sample: it sets no sink, and the recorder
 *     stores them in the profile (profile_add_sample) the writers read;
 *   - `top` keeps none: its sink updates the live tables per sample, so a
 *     refresh costs what the interval brought, not everything so far, and
 *     memory is bounded by the distinct frames, never by the run's length.
 *
 * The sink sits between the recorder and the profile's sample store rather
 * than inside the profile: the profile stays a passive store the writers and
 * the tests read, and the recorder already owns the one point where a sample
 * is complete (two call sites). The frame dictionary and the names stay in
 * the profile for every command: a sink resolves frame ids through it
 * (profile_frame), and both are bounded by the code seen, not by time.
 */
#ifndef BPFSPY_RECORDER_SAMPLE_SINK_H
#define BPFSPY_RECORDER_SAMPLE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

struct sample_sink {
	/*
	 * One sample: frames are profile frame ids, root first (n may be 0);
	 * weight and ts_ns as profile_add_sample takes them. Returns 0, or -1
	 * when the sample could not be kept (out of memory): it is not counted.
	 */
	int (*add_sample)(void *ctx, uint32_t pid, uint32_t tid, const uint32_t *frames, size_t n, uint64_t weight,
			  uint64_t ts_ns);
	void *ctx;
};

#endif
