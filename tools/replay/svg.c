// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay --svg (svg.h). Each row is the state after one command:
 * every VM's mappings (a lane per VM, the VM's used addresses across),
 * coloured by object (a hue from the object's name), sparse mappings
 * grey and dashed, evicted objects hatched with a red outline. The row's
 * ops are marked: new mappings outlined in black, unmapped ranges as red
 * dashed boxes, the cuts of a remap (split) as black ticks, blue when the
 * remap keeps the pages (keep=1, a merge candidate). Every mapping
 * carries data-va="ADDR+RANGE:OBJ@OFFSET" as `dump` prints it, every row
 * data-cmd (the command's number), data-kind and data-vm (the current VM).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/ops.h>
#include <gpuvm/va.h>
#include <gpuvm/vm.h>

#include "driver.h"
#include "objects.h"
#include "svg.h"
#include "trace.h"

struct svg_map {
	uint64_t addr, range, offset;
	char *obj; /* "-" for none */
	bool evicted, fresh;
};

enum svg_mark { MARK_UNMAP, MARK_CUT, MARK_CUT_KEEP, MARK_MAP };

struct svg_op {
	enum svg_mark kind;
	uint64_t lo, hi; /* MARK_CUT*: hi unused */
};

struct svg_lane_state {
	bool open;
	struct svg_map *maps;
	size_t nmaps;
};

struct svg_row {
	unsigned long index, lineno;
	char *text;
	enum cmd_kind kind;
	int cur; /* lane of the current VM, -1 none */
	struct svg_lane_state *lanes; /* nlanes at the time */
	size_t nlanes;
	struct svg_op *ops;
	size_t nops;
};

struct svg_lane {
	char *name;
	uint64_t start, range, kaddr, krange;
	uint64_t lo, hi; /* addresses used */
	bool used;
};

struct svg_rec {
	struct replay_observer obs;
	struct svg_row *rows;
	size_t nrows, rows_cap;
	unsigned long skipped;
	struct svg_lane *lanes;
	size_t nlanes;
	struct svg_op *pending;
	size_t npending, pending_cap;
	char **objs; /* every object name drawn, for the legend */
	size_t nobjs, objs_cap;
};

static void *xalloc(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		abort();
	q = realloc(p, n && size ? n * size : 1);
	if (!q) {
		fputs("gpuvm-replay: out of memory\n", stderr);
		abort();
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xalloc(NULL, n, 1), s, n);
}

static void lane_use(struct svg_lane *l, uint64_t lo, uint64_t hi)
{
	if (!l->used || lo < l->lo)
		l->lo = lo;
	if (!l->used || hi > l->hi)
		l->hi = hi;
	l->used = true;
}

static void obj_seen(struct svg_rec *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nobjs; i++)
		if (!strcmp(s->objs[i], name))
			return;
	if (s->nobjs == s->objs_cap) {
		s->objs_cap = s->objs_cap ? 2 * s->objs_cap : 16;
		s->objs = xalloc(s->objs, s->objs_cap, sizeof(*s->objs));
	}
	s->objs[s->nobjs++] = xstrdup(name);
}

static void pending_add(struct svg_rec *s, enum svg_mark kind, uint64_t lo,
			uint64_t hi)
{
	if (s->npending == s->pending_cap) {
		s->pending_cap = s->pending_cap ? 2 * s->pending_cap : 16;
		s->pending =
			xalloc(s->pending, s->pending_cap, sizeof(*s->pending));
	}
	s->pending[s->npending++] = (struct svg_op){ kind, lo, hi };
}

static void obs_ops(void *arg, struct gpuva_ops *ops)
{
	struct svg_rec *s = arg;
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		const struct gpuva *va;
		uint64_t lo, hi;

		switch (op->op) {
		case GPUVA_OP_MAP:
			pending_add(s, MARK_MAP, op->map.va.addr,
				    op->map.va.addr + op->map.va.range);
			break;
		case GPUVA_OP_UNMAP:
			va = op->unmap.va;
			pending_add(s, MARK_UNMAP, va->va.addr,
				    va->va.addr + va->va.range);
			break;
		case GPUVA_OP_REMAP:
			va = op->remap.unmap->va;
			lo = va->va.addr;
			hi = va->va.addr + va->va.range;
			if (op->remap.prev)
				lo = op->remap.prev->va.addr +
				     op->remap.prev->va.range;
			if (op->remap.next)
				hi = op->remap.next->va.addr;
			if (lo < hi)
				pending_add(s, MARK_UNMAP, lo, hi);
			if (op->remap.prev)
				pending_add(s,
					    op->remap.unmap->keep ?
						    MARK_CUT_KEEP :
						    MARK_CUT,
					    lo, lo);
			if (op->remap.next)
				pending_add(s,
					    op->remap.unmap->keep ?
						    MARK_CUT_KEEP :
						    MARK_CUT,
					    hi, hi);
			break;
		default:
			break;
		}
	}
}

/* Commands whose rows are drawn: they changed or printed the VA space. */
static bool drawn(enum cmd_kind k)
{
	switch (k) {
	case CMD_VM:
	case CMD_CLOSE:
	case CMD_MAP:
	case CMD_UNMAP:
	case CMD_MADVISE:
	case CMD_BO_UNMAP:
	case CMD_DUMP:
	case CMD_EVICT:
	case CMD_VALIDATE:
		return true;
	default:
		return false;
	}
}

static void snapshot(struct svg_rec *s, struct svg_lane_state *ls,
		     struct svg_lane *lane, struct gpuvm *gpuvm)
{
	struct gpuva *va;
	size_t n = 0, i = 0;

	gpuvm_for_each_va(va, gpuvm)
		n++;
	ls->maps = xalloc(NULL, n, sizeof(*ls->maps));
	gpuvm_for_each_va(va, gpuvm) {
		struct svg_map *m;

		if (va == &gpuvm->kernel_alloc_node)
			continue;
		m = &ls->maps[i++];
		m->addr = va->va.addr;
		m->range = va->va.range;
		m->offset = va->gem.offset;
		m->obj = xstrdup(robj_name(va->gem.obj));
		m->evicted = va->vm_bo && va->vm_bo->evicted;
		m->fresh = false;
		lane_use(lane, m->addr, m->addr + m->range);
		obj_seen(s, m->obj);
	}
	ls->nmaps = i;
}

static void obs_step(void *arg, const struct replay_step *st)
{
	struct svg_rec *s = arg;
	struct svg_row *r;
	char *text = NULL;
	size_t i, j, size = 0;
	FILE *f;

	if (st->failed || !drawn(st->cmd->kind)) {
		s->npending = 0;
		return;
	}
	if (s->nrows == SVG_MAX_ROWS) {
		s->skipped++;
		s->npending = 0;
		return;
	}
	/* New VMs get a lane each, in creation order. */
	for (; s->nlanes < st->nvms; s->nlanes++) {
		struct svg_lane *l;
		struct drv_vm *v = st->vms[s->nlanes]->vm;
		struct gpuvm *g = v ? &v->gpuvm : NULL;

		s->lanes = xalloc(s->lanes, s->nlanes + 1, sizeof(*s->lanes));
		l = &s->lanes[s->nlanes];
		memset(l, 0, sizeof(*l));
		l->name = xstrdup(st->vms[s->nlanes]->name);
		if (!g)
			continue;
		l->start = g->mm_start;
		l->range = g->mm_range;
		l->kaddr = g->kernel_alloc_node.va.addr;
		l->krange = g->kernel_alloc_node.va.range;
		if (l->krange)
			lane_use(l, l->kaddr, l->kaddr + l->krange);
	}
	if (s->nrows == s->rows_cap) {
		s->rows_cap = s->rows_cap ? 2 * s->rows_cap : 64;
		s->rows = xalloc(s->rows, s->rows_cap, sizeof(*s->rows));
	}
	r = &s->rows[s->nrows++];
	memset(r, 0, sizeof(*r));
	r->index = st->index;
	r->lineno = st->lineno;
	r->kind = st->cmd->kind;
	f = open_memstream(&text, &size);
	if (!f)
		abort();
	trace_echo(f, st->cmd);
	fclose(f);
	if (size && text[size - 1] == '\n')
		text[size - 1] = '\0';
	r->text = xstrdup(text + (strncmp(text, "> ", 2) ? 0 : 2));
	free(text);
	r->cur = -1;
	r->nlanes = st->nvms;
	r->lanes = xalloc(NULL, st->nvms, sizeof(*r->lanes));
	for (i = 0; i < st->nvms; i++) {
		struct svg_lane_state *ls = &r->lanes[i];

		memset(ls, 0, sizeof(*ls));
		if (st->vms[i] == st->cur)
			r->cur = (int)i;
		if (!st->vms[i]->vm)
			continue;
		ls->open = true;
		snapshot(s, ls, &s->lanes[i], &st->vms[i]->vm->gpuvm);
	}
	r->ops =
		s->npending ? xalloc(NULL, s->npending, sizeof(*r->ops)) : NULL;
	r->nops = s->npending;
	if (s->npending)
		memcpy(r->ops, s->pending, s->npending * sizeof(*r->ops));
	s->npending = 0;
	if (r->cur < 0)
		return;
	for (i = 0; i < r->nops; i++) {
		struct svg_lane_state *ls = &r->lanes[r->cur];

		lane_use(&s->lanes[r->cur], r->ops[i].lo,
			 r->ops[i].kind == MARK_UNMAP ||
					 r->ops[i].kind == MARK_MAP ?
				 r->ops[i].hi :
				 r->ops[i].lo);
		if (r->ops[i].kind != MARK_MAP)
			continue;
		for (j = 0; j < ls->nmaps; j++)
			if (ls->maps[j].addr == r->ops[i].lo &&
			    ls->maps[j].addr + ls->maps[j].range ==
				    r->ops[i].hi)
				ls->maps[j].fresh = true;
	}
}

struct svg_rec *svg_new(const struct replay_observer **obs)
{
	struct svg_rec *s = xalloc(NULL, 1, sizeof(*s));

	memset(s, 0, sizeof(*s));
	s->obs.ops = obs_ops;
	s->obs.step = obs_step;
	s->obs.arg = s;
	*obs = &s->obs;
	return s;
}

void svg_free(struct svg_rec *s)
{
	size_t i, j, k;

	if (!s)
		return;
	for (i = 0; i < s->nrows; i++) {
		struct svg_row *r = &s->rows[i];

		for (j = 0; j < r->nlanes; j++) {
			for (k = 0; k < r->lanes[j].nmaps; k++)
				free(r->lanes[j].maps[k].obj);
			free(r->lanes[j].maps);
		}
		free(r->lanes);
		free(r->ops);
		free(r->text);
	}
	for (i = 0; i < s->nlanes; i++)
		free(s->lanes[i].name);
	for (i = 0; i < s->nobjs; i++)
		free(s->objs[i]);
	free(s->objs);
	free(s->rows);
	free(s->lanes);
	free(s->pending);
	free(s);
}

/* ---- drawing -------------------------------------------------------------- */

#define W_LABEL 290.0
#define W_LANE_MIN 330.0
#define W_TOTAL 1340.0
#define GAP 14.0
#define H_ROWS 760.0

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* A stable colour per object name: a hue from its hash. */
static void obj_colour(const char *name, char *buf, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (!strcmp(name, "-")) {
		snprintf(buf, size, "#d9d9d9");
		return;
	}
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	/* 12 hues 30 degrees apart, three lightness levels: names that
	 * share a hue still differ in lightness. */
	snprintf(buf, size, "hsl(%u,%u%%,%u%%)",
		 (unsigned)(h % 12) * 30 + (unsigned)((h >> 40) % 7),
		 60 + (unsigned)((h >> 16) % 15),
		 42 + 13 * (unsigned)((h >> 32) % 3));
}

struct geom {
	double x0, w; /* lane's left edge and width */
	uint64_t lo, hi;
};

static double gx(const struct geom *g, uint64_t a)
{
	if (a <= g->lo)
		return g->x0;
	if (a >= g->hi)
		return g->x0 + g->w;
	return g->x0 + g->w * ((double)(a - g->lo) / (double)(g->hi - g->lo));
}

static const char *kind_name(enum cmd_kind k)
{
	switch (k) {
	case CMD_VM:
		return "vm";
	case CMD_CLOSE:
		return "close";
	case CMD_MAP:
		return "map";
	case CMD_UNMAP:
		return "unmap";
	case CMD_MADVISE:
		return "madvise";
	case CMD_BO_UNMAP:
		return "bo-unmap";
	case CMD_DUMP:
		return "dump";
	case CMD_EVICT:
		return "evict";
	case CMD_VALIDATE:
		return "validate";
	default:
		return "other";
	}
}

static void draw_map(FILE *f, const struct geom *g, const struct svg_map *m,
		     double y, double h)
{
	double x = gx(g, m->addr), x1 = gx(g, m->addr + m->range);
	bool sparse = !strcmp(m->obj, "-");
	char col[48];

	if (x1 - x < 1.5)
		x1 = x + 1.5;
	obj_colour(m->obj, col, sizeof(col));
	fprintf(f,
		"<rect class=\"va\" data-va=\"0x%" PRIx64 "+0x%" PRIx64
		":%s@0x%" PRIx64 "\" data-evicted=\"%d\" x=\"%.1f\" "
		"y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"",
		m->addr, m->range, m->obj, m->offset, m->evicted, x, y, x1 - x,
		h, col);
	if (m->evicted)
		fputs(" stroke=\"#c00000\" stroke-width=\"1.5\"", f);
	else if (m->fresh)
		fputs(" stroke=\"#000\" stroke-width=\"1.2\"", f);
	else if (sparse)
		fputs(" stroke=\"#888\" stroke-width=\"0.8\" "
		      "stroke-dasharray=\"3 2\"",
		      f);
	else
		fputs(" stroke=\"#fff\" stroke-width=\"0.6\"", f);
	fprintf(f,
		"><title>0x%" PRIx64 "+0x%" PRIx64 " %s@0x%" PRIx64 "%s%s"
		"</title></rect>",
		m->addr, m->range, m->obj, m->offset,
		m->evicted ? " (evicted)" : "", m->fresh ? " (new)" : "");
	if (m->evicted)
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\" fill=\"url(#hatch)\" "
			"pointer-events=\"none\"/>",
			x, y, x1 - x, h);
	if (h >= 9 && x1 - x > 7.0 * (double)strlen(m->obj) + 4 && !sparse)
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" "
			"class=\"vl\">%s</text>",
			x + 2, y + h - 0.25 * h, h * 0.72 > 11 ? 11 : h * 0.72,
			m->obj);
	fputc('\n', f);
}

static void draw_op(FILE *f, const struct geom *g, const struct svg_op *op,
		    double y, double h)
{
	double x = gx(g, op->lo);

	switch (op->kind) {
	case MARK_UNMAP:
		fprintf(f,
			"<rect class=\"op-unmap\" x=\"%.1f\" y=\"%.1f\" "
			"width=\"%.1f\" height=\"%.1f\" fill=\"url(#gone)\" "
			"stroke=\"#d00\" stroke-width=\"1\" "
			"stroke-dasharray=\"2 1.5\"/>\n",
			x, y + 0.5,
			gx(g, op->hi) - x < 1 ? 1 : gx(g, op->hi) - x, h - 1);
		break;
	case MARK_CUT:
	case MARK_CUT_KEEP:
		fprintf(f,
			"<path class=\"op-cut\" d=\"M%.1f %.1f v%.1f "
			"m-3 0 l3 -4 l3 4 z\" stroke=\"%s\" "
			"stroke-width=\"1.6\" fill=\"%s\"/>\n",
			x, y - 1, h + 2,
			op->kind == MARK_CUT ? "#000" : "#1565c0",
			op->kind == MARK_CUT ? "#000" : "#1565c0");
		break;
	default:
		break;
	}
}

static void axis_label(char *buf, size_t size, uint64_t a)
{
	snprintf(buf, size, "0x%" PRIx64, a);
}

int svg_write(struct svg_rec *s, FILE *f, const char *title)
{
	size_t nl = s->nlanes ? s->nlanes : 1, i, j, k;
	double lane_w = (W_TOTAL - W_LABEL - GAP * (double)nl) / (double)nl;
	double rh, font, y0, width, height, legend_h, y;
	unsigned int label_every;
	struct geom *geo;
	char col[48], a[32];

	if (lane_w < W_LANE_MIN)
		lane_w = W_LANE_MIN;
	width = W_LABEL + (lane_w + GAP) * (double)nl + 10;
	rh = s->nrows ? H_ROWS / (double)s->nrows : 18;
	if (rh > 18)
		rh = 18;
	if (rh < 3)
		rh = 3;
	font = rh * 0.78 > 11 ? 11 : rh * 0.78;
	label_every = font < 6.5 ? (unsigned int)(7.0 / rh + 0.999) : 1;
	if (font < 6.5)
		font = 7;

	/* Legend: objects in rows of swatches, then the marks. */
	{
		unsigned int per_row =
			(unsigned int)((width - 20) / 110.0) ?: 1;
		size_t nobj_rows = (s->nobjs + per_row - 1) / per_row;

		legend_h = 24 + 18.0 * (double)nobj_rows + 22;
	}
	y0 = 36 + legend_h + 40; /* rows start */
	height = y0 + rh * (double)s->nrows + (s->skipped ? 24 : 0) + 14;

	geo = xalloc(NULL, nl, sizeof(*geo));
	for (i = 0; i < nl; i++) {
		struct svg_lane *l = i < s->nlanes ? &s->lanes[i] : NULL;
		uint64_t lo, hi, pad;

		geo[i].x0 = W_LABEL + (double)i * (lane_w + GAP);
		geo[i].w = lane_w;
		lo = l ? (l->used ? l->lo : l->start) : 0;
		hi = l ? (l->used ? l->hi : l->start + l->range) : 1;
		if (hi <= lo)
			hi = lo + 1;
		/* The whole window unless the mappings use a tiny part of
		 * it (a 48-bit VM): then the addresses used, padded. */
		if (l && l->range && l->start + l->range > l->start &&
		    (hi - lo) >= l->range / 64) {
			lo = l->start;
			hi = l->start + l->range;
			pad = 0;
		} else {
			pad = (hi - lo) / 40;
		}
		geo[i].lo = lo;
		geo[i].hi = hi + pad > hi ? hi + pad : hi;
	}

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
		"data-rows=\"%zu\" data-clipped=\"%lu\">\n",
		width, height, width, height, s->nrows, s->skipped);
	fputs("<defs>\n"
	      "<pattern id=\"hatch\" width=\"5\" height=\"5\" "
	      "patternUnits=\"userSpaceOnUse\" "
	      "patternTransform=\"rotate(45)\">"
	      "<rect width=\"2\" height=\"5\" fill=\"#000\" "
	      "fill-opacity=\"0.45\"/></pattern>\n"
	      "<pattern id=\"gone\" width=\"4\" height=\"4\" "
	      "patternUnits=\"userSpaceOnUse\" "
	      "patternTransform=\"rotate(-45)\">"
	      "<rect width=\"1.2\" height=\"4\" fill=\"#d00\" "
	      "fill-opacity=\"0.5\"/></pattern>\n"
	      "</defs>\n"
	      "<style>text{fill:#222}.vl{fill:#111;pointer-events:none}"
	      ".lbl{fill:#333}.dim{opacity:0.4}"
	      "rect.va:hover{stroke:#000;stroke-width:2}</style>\n"
	      "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n",
	      f);
	fputs("<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">"
	      "gpuvm-replay: ",
	      f);
	put_escaped(f, title);
	fprintf(f,
		"</text><text x=\"10\" y=\"38\" font-size=\"11\" "
		"class=\"lbl\">%zu rows (commands that changed or printed the "
		"VA space; the state after each), %zu VM%s; address across, "
		"commands down. Hover for details.</text>\n",
		s->nrows, s->nlanes, s->nlanes == 1 ? "" : "s");

	/* Legend. */
	fputs("<g class=\"legend\">\n", f);
	{
		unsigned int per_row =
			(unsigned int)((width - 20) / 110.0) ?: 1;
		double ly = 52;

		for (i = 0; i < s->nobjs; i++) {
			double lx = 10 + 110.0 * (double)(i % per_row);
			double yy = ly + 18.0 * (double)(i / per_row);

			obj_colour(s->objs[i], col, sizeof(col));
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" "
				"height=\"12\" fill=\"%s\"%s/>"
				"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
				lx, yy, col,
				strcmp(s->objs[i], "-") ?
					"" :
					" stroke=\"#888\" "
					"stroke-dasharray=\"3 2\"",
				lx + 26, yy + 10);
			put_escaped(f, strcmp(s->objs[i], "-") ? s->objs[i] :
								 "- (sparse)");
			fputs("</text>\n", f);
		}
		ly += 18.0 * (double)((s->nobjs + per_row - 1) / per_row) + 6;
		fprintf(f,
			"<rect x=\"10\" y=\"%.1f\" width=\"22\" height=\"12\" "
			"fill=\"#ccc\" stroke=\"#000\" stroke-width=\"1.2\"/>"
			"<text x=\"36\" y=\"%.1f\" font-size=\"11\">new "
			"(map op)</text>\n"
			"<rect x=\"150\" y=\"%.1f\" width=\"22\" height=\"12\" "
			"fill=\"url(#gone)\" stroke=\"#d00\" "
			"stroke-dasharray=\"2 1.5\"/>"
			"<text x=\"176\" y=\"%.1f\" font-size=\"11\">unmapped "
			"here</text>\n"
			"<path d=\"M301 %.1f v14 m-3 0 l3 -4 l3 4 z\" "
			"stroke=\"#000\" stroke-width=\"1.6\"/>"
			"<text x=\"310\" y=\"%.1f\" font-size=\"11\">split "
			"(remap)</text>\n"
			"<path d=\"M421 %.1f v14 m-3 0 l3 -4 l3 4 z\" "
			"stroke=\"#1565c0\" fill=\"#1565c0\" "
			"stroke-width=\"1.6\"/>"
			"<text x=\"430\" y=\"%.1f\" font-size=\"11\">remap "
			"keep=1 (merge)</text>\n"
			"<rect x=\"570\" y=\"%.1f\" width=\"22\" height=\"12\" "
			"fill=\"#9ac\" stroke=\"#c00000\" "
			"stroke-width=\"1.5\"/><rect x=\"570\" y=\"%.1f\" "
			"width=\"22\" height=\"12\" fill=\"url(#hatch)\"/>"
			"<text x=\"596\" y=\"%.1f\" font-size=\"11\">evicted"
			"</text>\n"
			"<rect x=\"680\" y=\"%.1f\" width=\"22\" height=\"12\" "
			"fill=\"#aaa\" fill-opacity=\"0.35\"/>"
			"<text x=\"706\" y=\"%.1f\" font-size=\"11\">reserved"
			"</text>\n"
			"<rect x=\"790\" y=\"%.1f\" width=\"22\" height=\"12\" "
			"fill=\"#fff3b0\"/>"
			"<text x=\"816\" y=\"%.1f\" font-size=\"11\">dump row; "
			"faded lanes: not the current VM</text>\n",
			ly, ly + 10, ly, ly + 10, ly - 1, ly + 10, ly - 1,
			ly + 10, ly, ly, ly + 10, ly, ly + 10, ly, ly + 10);
	}
	fputs("</g>\n", f);

	/* Lane headers and axes. */
	for (i = 0; i < s->nlanes; i++) {
		struct geom *g = &geo[i];
		double top = y0 - 26;
		unsigned int t;

		fprintf(f,
			"<g class=\"lane-head\" data-vm=\"%s\">"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
			"font-weight=\"bold\">VM ",
			s->lanes[i].name, g->x0, top);
		put_escaped(f, s->lanes[i].name);
		fprintf(f,
			"</text><text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
			"class=\"lbl\" text-anchor=\"end\">window 0x%" PRIx64
			"+0x%" PRIx64 "</text>\n",
			g->x0 + g->w, top, s->lanes[i].start,
			s->lanes[i].range);
		for (t = 0; t <= 4; t++) {
			uint64_t av = g->lo + (g->hi - g->lo) / 4 * t;
			double x = gx(g, av);

			axis_label(a, sizeof(a), av);
			fprintf(f,
				"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				"y2=\"%.1f\" stroke=\"#ddd\"/>"
				"<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
				"class=\"lbl\" text-anchor=\"%s\">%s</text>\n",
				x, y0 - 4, x, y0 + rh * (double)s->nrows, x,
				y0 - 8,
				t == 0 ? "start" :
				t == 4 ? "end" :
					 "middle",
				a);
		}
		fputs("</g>\n", f);
	}

	/* Rows. */
	for (i = 0; i < s->nrows; i++) {
		struct svg_row *r = &s->rows[i];
		const char *cur = r->cur >= 0 ? s->lanes[r->cur].name : "";

		y = y0 + rh * (double)i;
		fprintf(f,
			"<g class=\"row\" data-cmd=\"%lu\" data-line=\"%lu\" "
			"data-kind=\"%s\" data-vm=\"%s\">",
			r->index, r->lineno, kind_name(r->kind), cur);
		fputs("<title>", f);
		fprintf(f, "#%lu line %lu: ", r->index, r->lineno);
		put_escaped(f, r->text);
		fputs("</title>", f);
		fprintf(f,
			"<rect x=\"0\" y=\"%.1f\" width=\"%.0f\" "
			"height=\"%.1f\" fill=\"%s\"/>\n",
			y, width, rh,
			r->kind == CMD_DUMP ? "#fff3b0" :
			i % 2		    ? "#f6f6f6" :
					      "#ffffff");
		if (i % label_every == 0) {
			fprintf(f,
				"<text x=\"6\" y=\"%.1f\" font-size=\"%.1f\" "
				"class=\"lbl\">%4lu ",
				y + rh * 0.5 + font * 0.36, font, r->index);
			if (strlen(r->text) > 36) {
				char shortened[40];

				memcpy(shortened, r->text, 34);
				memcpy(shortened + 34, "\xe2\x80\xa6", 4);
				put_escaped(f, shortened);
			} else {
				put_escaped(f, r->text);
			}
			fputs("</text>\n", f);
		}
		for (j = 0; j < r->nlanes; j++) {
			struct svg_lane_state *ls = &r->lanes[j];
			struct svg_lane *l = &s->lanes[j];
			double pad = rh > 6 ? 1 : 0.3;

			if (!ls->open)
				continue;
			fprintf(f, "<g class=\"lane\" data-vm=\"%s\"%s>\n",
				l->name,
				(int)j == r->cur ? "" : " opacity=\"0.4\"");
			if (l->krange)
				fprintf(f,
					"<rect x=\"%.1f\" y=\"%.1f\" "
					"width=\"%.1f\" height=\"%.1f\" "
					"fill=\"#aaa\" fill-opacity=\"0.35\"/>\n",
					gx(&geo[j], l->kaddr), y + pad,
					gx(&geo[j], l->kaddr + l->krange) -
						gx(&geo[j], l->kaddr),
					rh - 2 * pad);
			for (k = 0; k < ls->nmaps; k++)
				draw_map(f, &geo[j], &ls->maps[k], y + pad,
					 rh - 2 * pad);
			if ((int)j == r->cur)
				for (k = 0; k < r->nops; k++)
					draw_op(f, &geo[j], &r->ops[k], y + pad,
						rh - 2 * pad);
			fputs("</g>\n", f);
		}
		fputs("</g>\n", f);
	}
	if (s->skipped)
		fprintf(f,
			"<text x=\"10\" y=\"%.1f\" font-size=\"12\" "
			"fill=\"#c00\">... %lu more rows not drawn (at most "
			"%d)</text>\n",
			y0 + rh * (double)s->nrows + 16, s->skipped,
			SVG_MAX_ROWS);
	fputs("</svg>\n", f);
	free(geo);
	return fflush(f) || ferror(f) ? -1 : 0;
}
