/* SPDX-License-Identifier: MIT */
/*
 * Names the threads of a recording: the OS name (comm) at first, and for a
 * Python thread the name threading gives it, read from the process's own
 * table (never per sample: per process, with a back-off while a thread
 * waits for its entry). Names go to the profile.
 */
#ifndef BPFSPY_RECORDER_THREAD_NAMING_H
#define BPFSPY_RECORDER_THREAD_NAMING_H

#include "bpfspy_events.h"
#include "profile/profile.h"
#include "process/target_process.h"

struct thread_naming;

struct thread_naming *thread_naming_new(struct profile *names);
void thread_naming_free(struct thread_naming *t);

/* A sample of s->tid in p (p may be NULL: the process could not be read). */
void thread_naming_on_sample(struct thread_naming *t, struct target_process *p, const struct bpfspy_sample *s);

/* Reads p's table now (p just turned out to be Python: attached, its threads are there). */
void thread_naming_read(struct thread_naming *t, struct target_process *p);

/* The recording ends: a last look for p's threads still waiting for a name. */
void thread_naming_last_look(struct thread_naming *t, struct target_process *p);

#endif
