// SPDX-License-Identifier: MIT
/*
 * Interactive flame graph: one self-contained SVG (inline CSS and
 * JavaScript, nothing fetched), all threads merged, roots at the bottom.
 *
 * Every drawn frame is <g class="f KIND" data-x=OFFSET data-v=WEIGHT> with a
 * <title> (name, file:line, weight and share), a <rect> and a <text> label.
 * OFFSET and WEIGHT are exact integers in the profile's unit, so the script
 * zooms and sums search matches without floating-point drift, and tests can
 * check widths against them.
 *
 * Size is bounded whatever the number of distinct stacks: frames narrower
 * than MIN_FRAME_PX are left out (their weight still counts in the parent),
 * and the threshold doubles until at most MAX_DRAWN_FRAMES remain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "util/array.h"
#include "util/utf8.h"

#define SVG_WIDTH 1200
#define PAD_X 10
#define FRAME_HEIGHT 16
#define HEADER_HEIGHT 72
#define FOOTER_HEIGHT 30
#define FONT_SIZE 12
#define CHAR_WIDTH (FONT_SIZE * 0.59)
#define MIN_FRAME_PX 0.1
#define MAX_DRAWN_FRAMES 40000
#define INNER_WIDTH (SVG_WIDTH - 2 * PAD_X)

/* A process group: threads [first, end) of one pid, or all threads. */
struct group {
	size_t first, end;
	uint32_t pid;
	const char *process_name;
	uint64_t total;
};

struct visit {
	uint32_t stack_id;
	uint32_t depth;
	uint64_t offset;
};

struct flamegraph_writer {
	const struct profile *p;
	FILE *f;

	size_t nstacks;
	uint64_t *total;         /* inclusive weight per stack id, current group */
	uint32_t *children;      /* stack ids sorted by (parent, name) */
	size_t *child_start;     /* [parent + 1] -> first index in children; [0] = roots */

	struct group *groups;
	size_t ngroups;
	uint64_t grand_total;

	struct visit *todo;
	size_t todo_cap;

	double min_px;
	size_t drawn;            /* frames counted in the last pass */
	uint32_t max_depth;
	uint32_t height;         /* fixed by the counting pass */
	bool emit;               /* false: only count */
};

/* ---- text ---- */

/* XML 1.0 forbids most control characters; ill-formed UTF-8 is replaced. */
static void write_xml_text(FILE *f, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), chars = 0;

	while (n && chars < max_chars) {
		size_t len = utf8_sequence_length(p, n);

		if (len == 0) {
			fputs(UTF8_REPLACEMENT, f);
			len = 1;
		} else if (len == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] >= 0xBE) {
			fputs(UTF8_REPLACEMENT, f); /* U+FFFE, U+FFFF are not XML characters */
		} else if (len == 1) {
			switch (*p) {
			case '&': fputs("&amp;", f); break;
			case '<': fputs("&lt;", f); break;
			case '>': fputs("&gt;", f); break;
			case '"': fputs("&quot;", f); break;
			default: putc(*p < 0x20 || *p == 0x7f ? ' ' : *p, f);
			}
		} else {
			fwrite(p, 1, len, f);
		}
		p += len;
		n -= len;
		chars++;
	}
}

/* The label that fits in width_px: the whole name, a prefix and "..", or nothing. */
static void write_label(FILE *f, const char *name, double width_px)
{
	size_t fits = width_px > 6 ? (size_t)((width_px - 6) / CHAR_WIDTH) : 0;

	if (fits < 3)
		return;
	if (utf8_count_chars(name) <= fits) {
		write_xml_text(f, name, SIZE_MAX);
		return;
	}
	write_xml_text(f, name, fits - 2);
	fputs("..", f);
}

static void write_value(struct flamegraph_writer *w, uint64_t v)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	double share = w->grand_total ? 100.0 * (double)v / (double)w->grand_total : 0;

	if (m->unit == PROFILE_UNIT_NANOSECONDS) {
		double s = (double)v / 1e9;

		if (s >= 1)
			fprintf(w->f, "%.3f s (%.2f%%)", s, share);
		else
			fprintf(w->f, "%.3f ms (%.2f%%)", s * 1e3, share);
	} else {
		fprintf(w->f, "%" PRIu64 " sample%s (%.2f%%)", v, v == 1 ? "" : "s", share);
	}
}

/* ---- colours ---- */

static const char *kind_class(enum frame_kind kind)
{
	switch (kind) {
	case FRAME_PYTHON: return "python";
	case FRAME_NATIVE: return "native";
	case FRAME_KERNEL: return "kernel";
	default: return "marker";
	}
}

/* A stable shade per name within the kind's hue, so neighbours stay distinguishable. */
static void write_fill(FILE *f, const char *kind_cls, const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	unsigned a = h & 0xff, b = (h >> 8) & 0xff;
	unsigned r, g, bl;

	if (!strcmp(kind_cls, "python")) {
		r = 60 + a * 70 / 255; g = 165 + b * 60 / 255; bl = 70 + a * 50 / 255;
	} else if (!strcmp(kind_cls, "native")) {
		r = 225 + a * 30 / 255; g = 120 + b * 90 / 255; bl = 40 + a * 40 / 255;
	} else if (!strcmp(kind_cls, "kernel")) {
		r = 80 + a * 50 / 255; g = 140 + b * 50 / 255; bl = 215 + a * 40 / 255;
	} else if (!strcmp(kind_cls, "marker")) {
		r = g = bl = 165 + a * 40 / 255;
	} else {
		r = 185 + a * 30 / 255; g = 170 + a * 30 / 255; bl = 215 + a * 30 / 255;
	}
	fprintf(f, "#%02x%02x%02x", r, g, bl);
}

/* ---- drawing ---- */

static double px(const struct flamegraph_writer *w, uint64_t v)
{
	return w->grand_total ? (double)v * INNER_WIDTH / (double)w->grand_total : 0;
}


/*
 * One frame. kind_cls "group" is the synthetic "all" root and the
 * per-process roots; file may be NULL, line 0.
 */
static void draw_frame(struct flamegraph_writer *w, const char *kind_cls, const char *name,
		       const char *file, int line, uint32_t depth, uint64_t offset, uint64_t value)
{
	FILE *f = w->f;
	double x = PAD_X + px(w, offset), width = px(w, value);
	double y = w->height - FOOTER_HEIGHT - (depth + 1) * FRAME_HEIGHT;

	fprintf(f, "<g class=\"f %s\" data-x=\"%" PRIu64 "\" data-v=\"%" PRIu64 "\"><title>", kind_cls,
		offset, value);
	write_xml_text(f, name, SIZE_MAX);
	if (file) {
		putc('\n', f);
		write_xml_text(f, file, SIZE_MAX);
		if (line > 0)
			fprintf(f, ":%d", line);
	}
	putc('\n', f);
	write_value(w, value);
	fprintf(f, "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"", x, y, width,
		FRAME_HEIGHT - 1);
	write_fill(f, kind_cls, name);
	fprintf(f, "\"/><text x=\"%.2f\" y=\"%.0f\">", x + 3, y + FRAME_HEIGHT - 4);
	write_label(f, name, width);
	fputs("</text></g>\n", f);
}

/* Counts (or draws) a frame when it is wide enough; returns whether it was. */
static bool visit_frame(struct flamegraph_writer *w, const char *kind_cls, const char *name,
			const char *file, int line, uint32_t depth, uint64_t offset, uint64_t value)
{
	if (px(w, value) < w->min_px)
		return false;
	w->drawn++;
	if (depth > w->max_depth)
		w->max_depth = depth;
	if (w->emit)
		draw_frame(w, kind_cls, name, file, line, depth, offset, value);
	return true;
}

static int push(struct flamegraph_writer *w, size_t *n, uint32_t stack_id, uint32_t depth, uint64_t offset)
{
	if (array_reserve((void **)&w->todo, &w->todo_cap, *n + 1, sizeof(*w->todo)) != 0)
		return -1;
	w->todo[(*n)++] = (struct visit){ stack_id, depth, offset };
	return 0;
}

/* Pushes the children (index parent + 1 in child_start) side by side from offset. */
static int push_children(struct flamegraph_writer *w, size_t *n, size_t parent_slot, uint32_t depth,
			 uint64_t offset)
{
	for (size_t i = w->child_start[parent_slot]; i < w->child_start[parent_slot + 1]; i++) {
		uint32_t c = w->children[i];

		if (!w->total[c])
			continue;
		if (px(w, w->total[c]) >= w->min_px && push(w, n, c, depth, offset) < 0)
			return -1;
		offset += w->total[c];
	}
	return 0;
}

/* Depth-first without recursion: stacks from a converted file may be arbitrarily deep. */
static int walk_frames(struct flamegraph_writer *w, uint32_t depth, uint64_t offset)
{
	size_t n = 0;

	if (push_children(w, &n, 0, depth, offset) < 0)
		return -1;
	while (n) {
		struct visit v = w->todo[--n];
		const struct frame_desc *d = profile_frame(w->p, profile_stack_leaf(w->p, v.stack_id));

		if (!visit_frame(w, kind_class(d->kind), d->name, d->file, d->line, v.depth, v.offset,
				 w->total[v.stack_id]))
			continue;
		if (push_children(w, &n, (size_t)v.stack_id + 1, v.depth + 1, v.offset) < 0)
			return -1;
	}
	return 0;
}

/* ---- weights per group ---- */

static int add_run(void *arg, const struct profile_run *run)
{
	struct flamegraph_writer *w = arg;

	w->total[run->stack_id] += run->weight;
	return 0;
}

/* Inclusive weights: a parent's id is smaller than its children's. */
static int compute_totals(struct flamegraph_writer *w, const struct group *g)
{
	memset(w->total, 0, w->nstacks * sizeof(*w->total));
	for (size_t t = g->first; t < g->end; t++)
		if (profile_thread_runs(w->p, t, add_run, w) != 0)
			return -1;
	for (size_t id = w->nstacks; id-- > 0;) {
		uint32_t parent = profile_stack_parent(w->p, (uint32_t)id);

		if (parent != PROFILE_NO_STACK)
			w->total[parent] += w->total[id];
	}
	return 0;
}

static int walk_all(struct flamegraph_writer *w)
{
	bool per_process = w->ngroups > 1;
	uint64_t offset = 0;

	w->drawn = 0;
	w->max_depth = 0;
	visit_frame(w, "group", "all", NULL, 0, 0, 0, w->grand_total);
	for (size_t i = 0; i < w->ngroups; i++) {
		const struct group *g = &w->groups[i];

		if (per_process) {
			char label[300];

			snprintf(label, sizeof(label), "%s (pid %" PRIu32 ")", g->process_name, g->pid);
			if (!visit_frame(w, "group", label, NULL, 0, 1, offset, g->total)) {
				offset += g->total;
				continue;
			}
		}
		if (compute_totals(w, g) < 0 || walk_frames(w, per_process ? 2 : 1, offset) < 0)
			return -1;
		offset += g->total;
	}
	return 0;
}

/* ---- setup ---- */

static int add_group(struct flamegraph_writer *w, size_t first, const struct profile_thread_info *t)
{
	struct group *grown = reallocarray(w->groups, w->ngroups + 1, sizeof(*grown));

	if (!grown)
		return -1;
	w->groups = grown;
	w->groups[w->ngroups++] = (struct group){ first, first, t->pid, t->process_name, 0 };
	return 0;
}

static int collect_groups(struct flamegraph_writer *w)
{
	struct profile_thread_info t;
	bool per_process = profile_process_count(w->p) > 1;

	for (size_t i = 0; profile_thread_at(w->p, i, &t); i++) {
		if (!w->ngroups || (per_process && w->groups[w->ngroups - 1].pid != t.pid))
			if (add_group(w, i, &t) < 0)
				return -1;
		w->groups[w->ngroups - 1].end = i + 1;
		w->groups[w->ngroups - 1].total += t.total_weight;
		w->grand_total += t.total_weight;
	}
	return 0;
}

static int compare_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* Children ordered by parent, then alphabetically, as flame graphs usually are. */
static int compare_children(const void *a, const void *b, void *arg)
{
	const struct profile *p = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t px_ = profile_stack_parent(p, x) + 1, py = profile_stack_parent(p, y) + 1;

	if (px_ != py)
		return px_ < py ? -1 : 1;
	const struct frame_desc *fx = profile_frame(p, profile_stack_leaf(p, x));
	const struct frame_desc *fy = profile_frame(p, profile_stack_leaf(p, y));
	int c = strcmp(fx->name, fy->name);

	if (!c)
		c = compare_str(fx->file, fy->file);
	if (!c)
		c = (fx->line > fy->line) - (fx->line < fy->line);
	return c ? c : (x > y) - (x < y);
}

/* PROFILE_NO_STACK + 1 wraps to 0: roots land in slot 0, children of s in slot s + 1. */
static int index_children(struct flamegraph_writer *w)
{
	size_t n = w->nstacks;

	w->children = malloc((n ? n : 1) * sizeof(*w->children));
	w->child_start = calloc(n + 2, sizeof(*w->child_start));
	w->total = calloc(n ? n : 1, sizeof(*w->total));
	if (!w->children || !w->child_start || !w->total)
		return -1;
	for (uint32_t id = 0; id < n; id++) {
		w->children[id] = id;
		w->child_start[(uint32_t)(profile_stack_parent(w->p, id) + 1) + 1]++;
	}
	for (size_t i = 1; i < n + 2; i++)
		w->child_start[i] += w->child_start[i - 1];
	qsort_r(w->children, n, sizeof(*w->children), compare_children, (void *)w->p);
	return 0;
}

/* Lowers the detail until the drawing stays small. */
static int choose_min_width(struct flamegraph_writer *w)
{
	w->emit = false;
	for (w->min_px = MIN_FRAME_PX;; w->min_px *= 2) {
		if (walk_all(w) < 0)
			return -1;
		if (w->drawn <= MAX_DRAWN_FRAMES)
			break;
	}
	w->height = HEADER_HEIGHT + (w->max_depth + 1) * FRAME_HEIGHT + FOOTER_HEIGHT;
	return 0;
}

/* ---- the document ---- */

static const char STYLE[] =
	"<style>\n"
	"text{font-family:Verdana,'DejaVu Sans',sans-serif;font-size:12px;fill:#000}\n"
	"#title{font-size:17px;text-anchor:middle}#subtitle{fill:#555;text-anchor:middle}\n"
	"g.f text{pointer-events:none}g.f:hover rect{stroke:#000;stroke-width:0.5}\n"
	"g.f rect{rx:2px}#reset,#clear{cursor:pointer;fill:#1565c0}#reset{display:none}\n"
	".hidden{display:none}#tooltip{pointer-events:none;display:none}\n"
	"#tooltip rect{fill:#fffde7;stroke:#777}#matched{text-anchor:end}\n"
	"</style>\n";

/* Zoom, hover details and search; reads only the data-* attributes and titles. */
static const char SCRIPT[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"const svg = document.documentElement;\n"
	"const W = +svg.getAttribute('width'), PAD = 10, INNER = W - 2 * PAD, CW = 12 * 0.59;\n"
	"const frames = Array.from(document.querySelectorAll('g.f')).map(g => {\n"
	"  const r = g.querySelector('rect'), t = g.querySelector('text');\n"
	"  const lines = g.querySelector('title').textContent.split('\\n');\n"
	"  return { g, r, t, x: +g.dataset.x, v: +g.dataset.v, y: +r.getAttribute('y'), name: lines[0],\n"
	"           lines, fill: r.getAttribute('fill') };\n"
	"});\n"
	"const byG = new Map(frames.map(f => [f.g, f]));\n"
	"const root = frames.reduce((a, f) => (f.y > a.y ? f : a), frames[0]);\n"
	"const details = document.getElementById('details'), tip = document.getElementById('tooltip');\n"
	"const tipText = tip.querySelector('text'), tipRect = tip.querySelector('rect');\n"
	"const reset = document.getElementById('reset'), matched = document.getElementById('matched');\n"
	"let zoomed = null;\n"
	"function label(f, width) {\n"
	"  const fits = Math.floor((width - 6) / CW);\n"
	"  if (fits < 3) return '';\n"
	"  const chars = Array.from(f.name);\n"
	"  return chars.length <= fits ? f.name : chars.slice(0, fits - 2).join('') + '..';\n"
	"}\n"
	"function place(f, x, w) {\n"
	"  f.r.setAttribute('x', x.toFixed(2)); f.r.setAttribute('width', w.toFixed(2));\n"
	"  f.t.setAttribute('x', (x + 3).toFixed(2)); f.t.textContent = label(f, w);\n"
	"}\n"
	"function zoom(z) {\n"
	"  zoomed = z === root ? null : z;\n"
	"  const zx = z.x, zv = z.v || 1;\n"
	"  for (const f of frames) {\n"
	"    const inside = f.x >= zx && f.x + f.v <= zx + zv && f.y <= z.y;\n"
	"    const above = f.y > z.y && f.x <= zx && f.x + f.v >= zx + zv;\n"
	"    f.g.classList.toggle('hidden', !(inside || above));\n"
	"    if (inside) place(f, PAD + (f.x - zx) / zv * INNER, f.v / zv * INNER);\n"
	"    else if (above) place(f, PAD, INNER);\n"
	"  }\n"
	"  reset.style.display = zoomed ? 'inline' : 'none';\n"
	"}\n"
	"function describe(f) {\n"
	"  return f.lines.join('  ');\n"
	"}\n"
	"function showTip(f, evt) {\n"
	"  tipText.textContent = '';\n"
	"  f.lines.forEach((line, i) => {\n"
	"    const s = document.createElementNS('http://www.w3.org/2000/svg', 'tspan');\n"
	"    s.setAttribute('x', 6); s.setAttribute('dy', i ? 15 : 0); s.textContent = line;\n"
	"    tipText.appendChild(s);\n"
	"  });\n"
	"  tip.style.display = 'inline';\n"
	"  const box = tipText.getBBox();\n"
	"  tipRect.setAttribute('width', box.width + 12); tipRect.setAttribute('height', box.height + 8);\n"
	"  const pt = svg.createSVGPoint(); pt.x = evt.clientX; pt.y = evt.clientY;\n"
	"  const p = pt.matrixTransform(svg.getScreenCTM().inverse());\n"
	"  const x = Math.min(p.x + 12, W - box.width - 16), y = Math.max(p.y - box.height - 14, 0);\n"
	"  tip.setAttribute('transform', 'translate(' + x + ',' + y + ')');\n"
	"  details.textContent = describe(f);\n"
	"}\n"
	"svg.addEventListener('mousemove', e => {\n"
	"  const g = e.target.closest && e.target.closest('g.f');\n"
	"  if (g) showTip(byG.get(g), e); else { tip.style.display = 'none'; details.textContent = ' '; }\n"
	"});\n"
	"svg.addEventListener('click', e => {\n"
	"  const g = e.target.closest && e.target.closest('g.f');\n"
	"  if (g) zoom(byG.get(g));\n"
	"});\n"
	"reset.addEventListener('click', e => { e.stopPropagation(); zoom(root); });\n"
	"function search(term) {\n"
	"  let re = null;\n"
	"  try { re = term ? new RegExp(term) : null; } catch (err) { re = null; }\n"
	"  const hit = f => term && (re ? re.test(f.lines[0]) || re.test(f.lines[1] || '')\n"
	"                               : f.lines[0].includes(term));\n"
	"  const hits = [];\n"
	"  for (const f of frames) {\n"
	"    const on = hit(f);\n"
	"    f.r.setAttribute('fill', on ? '#e040fb' : f.fill);\n"
	"    if (on) hits.push(f);\n"
	"  }\n"
	"  /* nested matches count once: sum only intervals not inside one already counted */\n"
	"  hits.sort((a, b) => a.x - b.x || b.v - a.v);\n"
	"  let sum = 0, end = -1;\n"
	"  for (const f of hits) if (f.x >= end) { sum += f.v; end = f.x + f.v; }\n"
	"  else if (f.x + f.v > end) { sum += f.x + f.v - end; end = f.x + f.v; }\n"
	"  matched.textContent = term ? 'Matched: ' + (root.v ? 100 * sum / root.v : 0).toFixed(2) + '%' : '';\n"
	"  matched.dataset.share = root.v ? sum / root.v : 0;\n"
	"}\n"
	"const input = document.getElementById('search');\n"
	"input.addEventListener('input', () => search(input.value));\n"
	"document.addEventListener('keydown', e => {\n"
	"  if (e.key === 'Escape') { input.value = ''; search(''); zoom(root); }\n"
	"  else if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); input.focus(); }\n"
	"});\n"
	"]]></script>\n";

static void write_subtitle(struct flamegraph_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	FILE *f = w->f;

	fputs("<text id=\"subtitle\" x=\"600\" y=\"42\">", f);
	if (m->end_ns > m->start_ns)
		fprintf(f, "%.2f s, ", (double)(m->end_ns - m->start_ns) / 1e9);
	if (m->rate_hz)
		fprintf(f, "%u Hz, ", m->rate_hz);
	fprintf(f, "%" PRIu64 " samples, %zu thread%s in %zu process%s", profile_sample_count(w->p),
		profile_thread_count(w->p), profile_thread_count(w->p) == 1 ? "" : "s",
		profile_process_count(w->p), profile_process_count(w->p) == 1 ? "" : "es");
	fputs(m->unit == PROFILE_UNIT_NANOSECONDS ? ", width = wall-clock time" : ", width = samples", f);
	fputs("</text>\n", f);
}

static void write_legend(FILE *f)
{
	static const char *const kinds[] = { "python", "native", "kernel", "marker" };
	static const char *const names[] = { "Python", "native", "kernel", "marker / off-CPU" };

	for (int i = 0; i < 4; i++) {
		fprintf(f, "<rect x=\"%d\" y=\"50\" width=\"12\" height=\"12\" fill=\"", 420 + i * 95);
		write_fill(f, kinds[i], "");
		fprintf(f, "\"/><text x=\"%d\" y=\"60\">%s</text>\n", 436 + i * 95, names[i]);
	}
}

static void write_header(struct flamegraph_writer *w)
{
	const struct profile_meta *m = profile_meta_const(w->p);
	FILE *f = w->f;
	uint32_t h = w->height;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		   "<svg version=\"1.1\" width=\"%d\" height=\"%" PRIu32 "\" viewBox=\"0 0 %d %" PRIu32
		   "\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		SVG_WIDTH, h, SVG_WIDTH, h);
	fputs(STYLE, f);
	fprintf(f, "<rect width=\"%d\" height=\"%" PRIu32 "\" fill=\"#fafafa\"/>\n", SVG_WIDTH, h);
	fputs("<text id=\"title\" x=\"600\" y=\"22\">bpfspy: ", f);
	write_xml_text(f, m->command && *m->command ? m->command : "profile", 150);
	fputs("</text>\n", f);
	write_subtitle(w);
	write_legend(f);
	fputs("<text id=\"reset\" x=\"10\" y=\"60\">Reset Zoom</text>\n"
	      "<foreignObject x=\"900\" y=\"46\" width=\"290\" height=\"22\">"
	      "<input xmlns=\"http://www.w3.org/1999/xhtml\" id=\"search\" type=\"search\" "
	      "placeholder=\"Search (regex), Ctrl-F\" style=\"width:280px;font-size:12px\"/>"
	      "</foreignObject>\n",
	      f);
}

static void write_footer(struct flamegraph_writer *w)
{
	uint32_t h = w->height;

	fprintf(w->f, "<text id=\"details\" x=\"10\" y=\"%" PRIu32 "\"> </text>\n", h - 10);
	fprintf(w->f, "<text id=\"matched\" x=\"%d\" y=\"%" PRIu32 "\"></text>\n", SVG_WIDTH - 10, h - 10);
	fputs("<g id=\"tooltip\"><rect x=\"0\" y=\"0\" rx=\"3\"/><text y=\"16\"></text></g>\n", w->f);
	fputs(SCRIPT, w->f);
	fputs("</svg>\n", w->f);
}

static void writer_free(struct flamegraph_writer *w)
{
	free(w->total);
	free(w->children);
	free(w->child_start);
	free(w->groups);
	free(w->todo);
}

int write_flamegraph(const struct profile *p, FILE *f, const struct write_options *o)
{
	struct flamegraph_writer w = { .p = p, .f = f, .nstacks = profile_stack_count(p) };
	int rc = -1;

	errno = 0;
	if (index_children(&w) < 0 || collect_groups(&w) < 0 || choose_min_width(&w) < 0)
		goto out;
	write_header(&w);
	w.emit = true;
	fputs("<g id=\"frames\">\n", f);
	if (walk_all(&w) < 0)
		goto out;
	fputs("</g>\n", f);
	write_footer(&w);
	if (fflush(f) == 0 && !ferror(f))
		rc = 0;
out:
	if (rc < 0 && errno == 0)
		errno = ENOMEM;
	writer_free(&w);
	return rc;
}
