// SPDX-License-Identifier: MIT
#include "top/top_screen.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#define ENTER_SEQ "\033[?1049h\033[?25l\033[H\033[2J"
#define LEAVE_SEQ "\033[?25h\033[?1049l"

/* Static: the signal handlers restore the terminal with nothing but this state. */
static struct termios saved_termios;
static volatile sig_atomic_t active, keys_raw, redraw_pending;
static bool handlers_installed;
/*
 * Diagnostics (warnings, errors) written while the view is up would land
 * in the middle of it and vanish with the alternate screen: stderr, when it
 * is a terminal, goes to a memory file meanwhile and is copied to the real
 * one when the terminal is given back. Nothing is silenced.
 */
static volatile sig_atomic_t real_stderr = -1, held_stderr = -1;

static void hold_stderr(void)
{
	if (real_stderr >= 0 || !isatty(STDERR_FILENO))
		return;
	int held = memfd_create("bpfspy-top-stderr", MFD_CLOEXEC);
	int real = held >= 0 ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1;
	if (real < 0 || dup2(held, STDERR_FILENO) < 0) {
		if (real >= 0)
			close(real);
		if (held >= 0)
			close(held);
		return;
	}
	real_stderr = real;
	held_stderr = held;
}

/* Async-signal-safe. */
static void release_stderr(void)
{
	if (real_stderr < 0)
		return;
	dup2(real_stderr, STDERR_FILENO);
	close(real_stderr);
	real_stderr = -1;
	char buf[4096];
	ssize_t n;
	lseek(held_stderr, 0, SEEK_SET);
	while ((n = read(held_stderr, buf, sizeof(buf))) > 0)
		if (write(STDERR_FILENO, buf, (size_t)n) != n)
			break;
	close(held_stderr);
	held_stderr = -1;
}

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Async-signal-safe. */
static void restore_terminal(void)
{
	if (!active)
		return;
	if (keys_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
	write_all(LEAVE_SEQ, sizeof(LEAVE_SEQ) - 1);
	release_stderr();
	active = 0;
}

static void take_terminal(void)
{
	if (keys_raw) {
		struct termios raw = saved_termios;
		/* keys one at a time, no echo; ISIG stays so Ctrl-C and Ctrl-Z still signal */
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	write_all(ENTER_SEQ, sizeof(ENTER_SEQ) - 1);
	hold_stderr();
	active = 1;
}

static void on_fatal_signal(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_stop_signal(int sig)
{
	int was_active = active;
	restore_terminal();
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP);
	/* resumed (SIGCONT): take the terminal back */
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, NULL);
	if (was_active)
		take_terminal();
	redraw_pending = 1;
	(void)sig;
}

static void on_resize(int sig)
{
	redraw_pending = 1;
	(void)sig;
}

static void install_handlers(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_fatal_signal, .sa_flags = SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	struct sigaction stop = { .sa_handler = on_stop_signal };
	sigemptyset(&stop.sa_mask);
	sigaction(SIGTSTP, &stop, NULL);
	struct sigaction winch = { .sa_handler = on_resize, .sa_flags = SA_RESTART };
	sigemptyset(&winch.sa_mask);
	sigaction(SIGWINCH, &winch, NULL);
	atexit(restore_terminal);
	handlers_installed = true;
}

int top_screen_open(void)
{
	if (!isatty(STDOUT_FILENO))
		return -1;
	keys_raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0;
	if (!handlers_installed)
		install_handlers();
	take_terminal();
	return 0;
}

void top_screen_close(void)
{
	restore_terminal();
}

bool top_screen_has_keys(void)
{
	return keys_raw;
}

int top_screen_read_key(void)
{
	unsigned char c;
	if (!keys_raw || read(STDIN_FILENO, &c, 1) != 1)
		return TOP_KEY_NONE;
	return c;
}

int top_screen_wait_key(int timeout_ms)
{
	if (!keys_raw) {
		poll(NULL, 0, timeout_ms);
		return TOP_KEY_NONE;
	}
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return TOP_KEY_NONE;
	return top_screen_read_key();
}

static void screen_size(int *rows, int *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

int top_screen_rows(void)
{
	int rows, cols;
	screen_size(&rows, &cols);
	return rows;
}

bool top_screen_take_redraw(void)
{
	bool r = redraw_pending;
	redraw_pending = 0;
	return r;
}

/* East Asian wide and emoji ranges take two columns. */
static unsigned codepoint_width(uint32_t c)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
	    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

/* Decodes one UTF-8 sequence at s; returns its length (1 for a stray byte). */
static size_t utf8_next(const unsigned char *s, uint32_t *c)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 1;
	*c = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*c = 0xfffd;
			return 1;
		}
		*c = (*c << 6) | (s[i] & 0x3f);
	}
	return len;
}

size_t top_screen_fit(const char *s, size_t width, size_t *bytes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0, pos = 0;
	while (p[pos]) {
		uint32_t c;
		size_t len = utf8_next(p + pos, &c);
		unsigned w = codepoint_width(c);
		if (cols + w > width)
			break;
		cols += w;
		pos += len;
	}
	*bytes = pos;
	return cols;
}

static void draw_line(FILE *f, int row, const char *line, int cols)
{
	size_t bytes;
	fprintf(f, "\033[%d;1H", row);
	top_screen_fit(line, (size_t)cols, &bytes);
	/* control characters in names must not move the cursor */
	for (size_t i = 0; i < bytes; i++)
		fputc((unsigned char)line[i] < 0x20 || line[i] == 0x7f ? '?' : line[i], f);
	fputs("\033[K", f);
}

void top_screen_draw(char *const *lines, size_t n)
{
	int rows, cols;
	screen_size(&rows, &cols);
	FILE *f = stdout;
	int row = 1;
	/* the last line is the status line, pinned to the bottom row */
	for (size_t i = 0; i + 1 < n && row < rows; i++, row++)
		draw_line(f, row, lines[i], cols);
	for (; row < rows; row++)
		fprintf(f, "\033[%d;1H\033[K", row);
	if (n)
		draw_line(f, rows, lines[n - 1], cols);
	fflush(f);
}
