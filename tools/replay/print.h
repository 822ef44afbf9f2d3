/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay: the output format of ops, mappings and vm_bo states.
 */
#ifndef GPUVM_REPLAY_PRINT_H
#define GPUVM_REPLAY_PRINT_H

#include <stdio.h>

#include <gpuvm/ops.h>
#include <gpuvm/va.h>

#include "driver.h"
#include "replay.h"

/* One line per op, in list order; @counts[enum replay_op_kind] counts
 * them. */
void print_ops(FILE *f, struct gpuva_ops *ops, unsigned long *counts);

/* `va ADDR+RANGE:OBJ@OFFSET` */
void print_va_line(FILE *f, const struct gpuva *va);

/* `vm_bo NAME refs=N evicted=E extobj=X evict-list=L vas=V` */
void print_bo_state(FILE *f, const char *name, const struct drv_bo_state *st);

/* `PREFIX NAME` for each of @names, sorted by strcmp. */
void print_sorted_names(FILE *f, const char *prefix, const char **names,
			size_t n);

#endif /* GPUVM_REPLAY_PRINT_H */
