/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay: runs a trace (see README, "gpuvm-replay") through libgpuvm
 * with a built-in reference driver (driver.h) and prints what the library
 * did. The trace language is in trace.h, the output format in print.h.
 *
 * The replay core is a static library so tests can run traces in-process,
 * on memory streams, with fault injection armed.
 */
#ifndef GPUVM_REPLAY_H
#define GPUVM_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

/* Op kinds counted in struct replay_stats (indexes of ops[]). */
enum replay_op_kind {
	REPLAY_OP_MAP,
	REPLAY_OP_REMAP,
	REPLAY_OP_UNMAP,
	REPLAY_OP_PREFETCH,
	REPLAY_OP_KINDS,
};

/**
 * struct replay_stats - what one replay did
 * @lines: lines read
 * @commands: commands run (lines that parsed)
 * @parse_errors: lines that did not parse
 * @errors: commands that answered `error NAME`
 * @ops: ops printed, by enum replay_op_kind
 * @warnings: library warnings during the replay (teardown included)
 * @leaked: live library allocations left after teardown (0 when none)
 * @elapsed_ns: wall time of the replay, teardown included
 * @fault_line: line of the first command during which an armed allocation
 *              fault (gpuvm_alloc_fail_nth) fired; 0 when none fired in a
 *              command. REPLAY_FAULT_TEARDOWN: it fired in the teardown.
 */
struct replay_stats {
	unsigned long lines;
	unsigned long commands;
	unsigned long parse_errors;
	unsigned long errors;
	unsigned long ops[REPLAY_OP_KINDS];
	unsigned long warnings;
	long leaked;
	unsigned long long elapsed_ns;
	unsigned long fault_line;
};

#define REPLAY_FAULT_TEARDOWN (~0ul)

struct cmd;
struct gpuva_ops;
struct vm_rec;

/**
 * struct replay_step - one command, as an observer sees it once it ran
 * @index: the command's number (0 for the first command)
 * @lineno: its line
 * @cmd: the parsed command (its strings live until the callback returns)
 * @failed: it answered `error` (and changed nothing)
 * @cur: the current VM after it, NULL when none
 * @vms: every VM of the trace so far, in creation order (a closed one has
 *       vm == NULL)
 * @nvms: entries in @vms
 */
struct replay_step {
	unsigned long index;
	unsigned long lineno;
	const struct cmd *cmd;
	bool failed;
	const struct vm_rec *cur;
	struct vm_rec *const *vms;
	size_t nvms;
};

/**
 * struct replay_observer - what a picture of the replay needs (svg.h)
 * @ops: the ops a command printed, for the current VM, before @step
 * @step: after each command (not after a line that did not parse)
 * @arg: passed to both
 */
struct replay_observer {
	void (*ops)(void *arg, struct gpuva_ops *ops);
	void (*step)(void *arg, const struct replay_step *step);
	void *arg;
};

/**
 * struct replay_opts - how to run a replay
 * @warn_handler: install a warning handler that prints each library
 *                warning to the error stream as
 *                "libgpuvm: WARNING [rule] message" for the duration of the
 *                replay (the default handler is restored afterwards). Off:
 *                whatever handler is installed keeps receiving them (tests).
 * @strict: a line that does not parse, or a command that answers
 *          `error`, makes the run return REPLAY_STRICT (unless a warning
 *          or a read error takes precedence)
 * @stats: filled in at the end when not NULL
 * @observer: told about every command when not NULL
 */
struct replay_opts {
	bool warn_handler;
	bool strict;
	struct replay_stats *stats;
	const struct replay_observer *observer;
};

/* Exit statuses of replay_run() and of the tool. */
#define REPLAY_OK 0
#define REPLAY_WARNED 1 /* a library warning, or a leak */
#define REPLAY_USAGE 2 /* usage error, or input not readable to the end */
#define REPLAY_STRICT 3 /* --strict: a parse or command error */

/**
 * replay_run() - run the trace read from @in
 * @in: the trace
 * @name: how to call @in in diagnostics ("FILE:LINE: ...")
 * @out: receives the contract output
 * @err: receives diagnostics (parse errors, warnings, leaks)
 * @opts: may be NULL (defaults: no handler, no stats)
 *
 * Runs every command, then tears everything down. Not reentrant: one
 * replay at a time per process (the warning handler and the allocation
 * counters are process wide).
 *
 * Return: REPLAY_OK; REPLAY_WARNED when the library warned or something
 * leaked; REPLAY_USAGE when @in could not be read to the end (the
 * commands read so far ran, and everything was torn down);
 * REPLAY_STRICT as described for @opts->strict.
 */
int replay_run(FILE *in, const char *name, FILE *out, FILE *err,
	       const struct replay_opts *opts);

/* Print @st as the --stats summary. */
void replay_print_stats(FILE *f, const struct replay_stats *st);

/* The built-in example trace of `gpuvm-replay --demo`. */
extern const char replay_demo_trace[];

#endif /* GPUVM_REPLAY_H */
