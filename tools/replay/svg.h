/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay --svg: the trace as a picture. Records, through a
 * replay_observer, the mappings of every VM after each command that
 * changed or printed the VA space, and the ops that got there; then
 * draws one row per such command, one lane per VM, address across.
 */
#ifndef GPUVM_REPLAY_SVG_H
#define GPUVM_REPLAY_SVG_H

#include <stdio.h>

#include "replay.h"

/* Rows drawn at most; later commands are counted, not drawn. */
#define SVG_MAX_ROWS 2000

struct svg_rec;

/* A new recorder; its observer is *@obs (valid while the recorder is). */
struct svg_rec *svg_new(const struct replay_observer **obs);

/* Write the picture, titled @title. Return: 0, or -1 on a write error. */
int svg_write(struct svg_rec *s, FILE *f, const char *title);

void svg_free(struct svg_rec *s);

#endif /* GPUVM_REPLAY_SVG_H */
