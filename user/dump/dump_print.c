// SPDX-License-Identifier: MIT
/* Prints a dump snapshot as Python-style tracebacks or as JSON. */
#include "dump/dump.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "python/python.h"

const char *dump_state_name(char state)
{
	switch (state) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "waiting on I/O";
	case 'T':
	case 't':
		return "stopped";
	case 'Z':
	case 'X':
		return "exiting";
	case 'I':
		return "idle";
	default:
		return "unknown";
	}
}

/* Line `line` of `file` without its indentation, as a traceback shows it; "" if unreadable. */
static void source_line(const char *file, int line, char *out, size_t len)
{
	out[0] = '\0';
	if (!file || line <= 0 || file[0] != '/')
		return;
	FILE *f = fopen(file, "r");
	if (!f)
		return;
	char buf[1024];
	for (int n = 1; fgets(buf, sizeof(buf), f); ) {
		bool whole = strchr(buf, '\n') != NULL;
		if (n == line) {
			char *s = buf;
			while (isspace((unsigned char)*s))
				s++;
			s[strcspn(s, "\r\n")] = '\0';
			size_t n = strlen(s) < len - 1 ? strlen(s) : len - 1;
			memcpy(out, s, n);
			out[n] = '\0';
			break;
		}
		if (whole)
			n++;
	}
	fclose(f);
}

static void print_thread_title(const struct dump_thread *t, bool show_gil, bool gil_known, FILE *f)
{
	if (t->tid)
		fprintf(f, "Thread %d", t->tid);
	else
		fprintf(f, "Thread 0x%llx", (unsigned long long)t->thread_id);
	if (t->name[0])
		fprintf(f, " \"%s\"", t->name);
	fprintf(f, " (%s", t->tid ? dump_state_name(t->state) : "no OS thread found");
	if (show_gil && gil_known)
		fprintf(f, ", %s", t->holds_gil ? "holds the GIL" : "does not hold the GIL");
	fputs(")\n", f);
}

/* py-spy's layout: an Arguments: and a Locals: heading, then `name: repr` per variable. */
static void print_locals(const struct dump_frame *fr, FILE *f)
{
	bool shown_args = false, shown_locals = false;

	if (fr->locals_unreadable) {
		fputs("      (local variables could not be read)\n", f);
		return;
	}
	for (size_t k = 0; k < fr->nlocals; k++) {
		const struct py_local *l = &fr->locals[k];

		if (l->arg && !shown_args) {
			fputs("      Arguments:\n", f);
			shown_args = true;
		} else if (!l->arg && !shown_locals) {
			fputs("      Locals:\n", f);
			shown_locals = true;
		}
		fprintf(f, "        %s: %s\n", l->name, l->repr);
	}
}

void dump_print_text(const struct dump_snapshot *s, bool show_gil, FILE *f)
{
	fprintf(f, "Process %d: %s\n", s->pid, s->cmdline);
	fprintf(f, "Python v%s (%s)\n", s->python_version, s->python_module);
	if (show_gil && !s->gil_known)
		fputs("(the GIL holder could not be read)\n", f);
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct dump_thread *t = &s->threads[i];
		fputc('\n', f);
		print_thread_title(t, show_gil, s->gil_known, f);
		if (t->changing) {
			fputs("  (stack changing, retry)\n", f);
			continue;
		}
		if (!t->nframes) {
			fputs("  (no Python frames)\n", f);
			continue;
		}
		fputs("Traceback (most recent call last):\n", f);
		if (t->native_note)
			fprintf(f, "  (%s)\n", t->native_note);
		if (t->truncated && !t->native)
			fputs("  ... (outer frames not read: deeper than the walk limit)\n", f);
		for (size_t j = 0; j < t->nframes; j++) {
			const struct dump_frame *fr = &t->frames[j];
			char src[256];
			if (fr->native) {
				/*
				 * C code: its function and the ELF file it is in (a stripped
				 * function's name, func@0x... (module), already says it)
				 */
				if (fr->file && strncmp(fr->name, "func@", 5) != 0)
					fprintf(f, "  [native] %s (%s)\n", fr->name, fr->file);
				else
					fprintf(f, "  [native] %s\n", fr->name);
				continue;
			}
			fprintf(f, "  File \"%s\", line %d, in %s\n", fr->file ? fr->file : "<unknown>", fr->line, fr->name);
			source_line(fr->file, fr->line, src, sizeof(src));
			if (src[0])
				fprintf(f, "    %s\n", src);
			if (s->locals)
				print_locals(fr, f);
		}
	}
	if (s->async_requested)
		dump_async_print_text(s, f);
}

void *dump_frame_json(const struct dump_frame *f)
{
	cJSON *fr = cJSON_CreateObject();
	if (!fr)
		return NULL;
	cJSON_AddStringToObject(fr, "name", f->name);
	if (f->file)
		cJSON_AddStringToObject(fr, "file", f->file);
	else
		cJSON_AddNullToObject(fr, "file");
	cJSON_AddNumberToObject(fr, "line", f->line);
	return fr;
}

static void add_locals_json(cJSON *fr, const struct dump_frame *frame)
{
	cJSON *arr;

	if (frame->locals_unreadable) {
		cJSON_AddNullToObject(fr, "locals");
		return;
	}
	arr = cJSON_AddArrayToObject(fr, "locals");
	for (size_t k = 0; arr && k < frame->nlocals; k++) {
		cJSON *l = cJSON_CreateObject();

		if (!l)
			break;
		cJSON_AddStringToObject(l, "name", frame->locals[k].name);
		cJSON_AddStringToObject(l, "repr", frame->locals[k].repr);
		cJSON_AddBoolToObject(l, "arg", frame->locals[k].arg);
		cJSON_AddItemToArray(arr, l);
	}
}

static cJSON *thread_json(const struct dump_thread *t, bool show_gil, bool gil_known, bool locals)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "tid", t->tid);
	char id[32];
	snprintf(id, sizeof(id), "0x%llx", (unsigned long long)t->thread_id);
	cJSON_AddStringToObject(o, "thread_id", id);
	if (t->name[0])
		cJSON_AddStringToObject(o, "name", t->name);
	else
		cJSON_AddNullToObject(o, "name");
	/* py-spy's key for the same name */
	if (t->name[0])
		cJSON_AddStringToObject(o, "thread_name", t->name);
	else
		cJSON_AddNullToObject(o, "thread_name");
	cJSON_AddStringToObject(o, "state", t->tid ? dump_state_name(t->state) : "unknown");
	if (show_gil && gil_known)
		cJSON_AddBoolToObject(o, "holds_gil", t->holds_gil);
	cJSON_AddBoolToObject(o, "truncated", t->truncated);
	cJSON_AddBoolToObject(o, "stack_changing", t->changing);
	if (t->native_note)
		cJSON_AddStringToObject(o, "native_note", t->native_note);
	cJSON *frames = cJSON_AddArrayToObject(o, "frames");
	for (size_t j = 0; frames && j < t->nframes; j++) {
		cJSON *fr = dump_frame_json(&t->frames[j]);
		if (!fr)
			break;
		if (locals)
			add_locals_json(fr, &t->frames[j]);
		if (t->native)
			cJSON_AddBoolToObject(fr, "native", t->frames[j].native);
		cJSON_AddItemToArray(frames, fr);
	}
	return o;
}

int dump_print_json(const struct dump_snapshot *s, bool show_gil, FILE *f)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return -1;
	cJSON_AddNumberToObject(root, "pid", s->pid);
	cJSON_AddStringToObject(root, "command", s->cmdline);
	cJSON_AddStringToObject(root, "python_version", s->python_version);
	cJSON_AddStringToObject(root, "python_module", s->python_module);
	cJSON_AddStringToObject(root, "frame_order", "most recent call last");
	cJSON *threads = cJSON_AddArrayToObject(root, "threads");
	for (size_t i = 0; threads && i < s->nthreads; i++) {
		cJSON *t = thread_json(&s->threads[i], show_gil, s->gil_known, s->locals);
		if (t)
			cJSON_AddItemToArray(threads, t);
	}
	if (s->async_requested)
		dump_async_add_json(s, root);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -1;
	fprintf(f, "%s\n", text);
	free(text);
	return 0;
}
