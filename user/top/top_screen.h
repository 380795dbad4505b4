/* SPDX-License-Identifier: MIT */
/*
 * The terminal while `bpfspy top` runs: alternate screen, hidden cursor,
 * keys read one at a time without echo, diagnostics held until the view
 * closes (then printed). Every way out (close, exit, fatal signal, Ctrl-Z)
 * gives the terminal back as it was.
 */
#ifndef BPFSPY_TOP_SCREEN_H
#define BPFSPY_TOP_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOP_KEY_NONE (-1)

/* Takes over stdout (must be a terminal); keys come from stdin if it is one. Returns 0 or -1. */
int top_screen_open(void);
/* Restores the terminal; safe to call more than once. */
void top_screen_close(void);
bool top_screen_has_keys(void);

/* The next key pressed, or TOP_KEY_NONE. */
int top_screen_read_key(void);
/* Waits up to timeout_ms for a key; returns it or TOP_KEY_NONE. */
int top_screen_wait_key(int timeout_ms);

/* Draws lines from the top, each cut to the width (never wrapped); the last line goes to the bottom row. */
void top_screen_draw(char *const *lines, size_t n);
/* Rows of the terminal (at least 1). */
int top_screen_rows(void);
/* True once after the terminal was resized or resumed (redraw needed). */
bool top_screen_take_redraw(void);

/* Display columns of the longest prefix of s that fits in width columns; its byte length in *bytes. */
size_t top_screen_fit(const char *s, size_t width, size_t *bytes);

#endif
