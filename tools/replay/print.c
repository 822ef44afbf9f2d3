// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay: printing what the library did (print.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "print.h"

static void print_mapping(FILE *f, uint64_t addr, uint64_t range,
			  struct gpuvm_gem_object *obj, uint64_t offset)
{
	fprintf(f, "0x%" PRIx64 "+0x%" PRIx64 ":%s@0x%" PRIx64, addr, range,
		robj_name(obj), offset);
}

static void print_va(FILE *f, const struct gpuva *va)
{
	print_mapping(f, va->va.addr, va->va.range, va->gem.obj,
		      va->gem.offset);
}

static void print_op_map(FILE *f, const struct gpuva_op_map *m)
{
	if (!m) {
		fputc('-', f);
		return;
	}
	print_mapping(f, m->va.addr, m->va.range, m->gem.obj, m->gem.offset);
}

void print_ops(FILE *f, struct gpuva_ops *ops, unsigned long *counts)
{
	struct gpuva_op *op;

	gpuva_for_each_op(op, ops) {
		switch (op->op) {
		case GPUVA_OP_MAP:
			fputs("map ", f);
			print_op_map(f, &op->map);
			counts[REPLAY_OP_MAP]++;
			break;
		case GPUVA_OP_REMAP:
			fputs("remap ", f);
			print_va(f, op->remap.unmap->va);
			fprintf(f, " keep=%d prev=", op->remap.unmap->keep);
			print_op_map(f, op->remap.prev);
			fputs(" next=", f);
			print_op_map(f, op->remap.next);
			counts[REPLAY_OP_REMAP]++;
			break;
		case GPUVA_OP_UNMAP:
			fputs("unmap ", f);
			print_va(f, op->unmap.va);
			fprintf(f, " keep=%d", op->unmap.keep);
			counts[REPLAY_OP_UNMAP]++;
			break;
		case GPUVA_OP_PREFETCH:
			fputs("prefetch ", f);
			print_va(f, op->prefetch.va);
			counts[REPLAY_OP_PREFETCH]++;
			break;
		default:
			fprintf(f, "op %d", (int)op->op);
			break;
		}
		fputc('\n', f);
	}
}

void print_va_line(FILE *f, const struct gpuva *va)
{
	fputs("va ", f);
	print_va(f, va);
	fputc('\n', f);
}

void print_bo_state(FILE *f, const char *name, const struct drv_bo_state *st)
{
	fprintf(f,
		"vm_bo %s refs=%d evicted=%d extobj=%d evict-list=%d vas=%lu\n",
		name, st->refs, st->evicted, st->on_extobj_list,
		st->on_evict_list, st->nvas);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void print_sorted_names(FILE *f, const char *prefix, const char **names,
			size_t n)
{
	size_t i;

	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++)
		fprintf(f, "%s %s\n", prefix, names[i]);
}
