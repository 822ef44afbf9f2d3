/* SPDX-License-Identifier: MIT */
/*
 * The trace language of gpuvm-replay: reading lines, splitting them into
 * commands, and echoing a command the way the output format wants it.
 * Nothing here knows about libgpuvm; see README, "gpuvm-replay".
 */
#ifndef GPUVM_REPLAY_TRACE_H
#define GPUVM_REPLAY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Longest command text kept of a line: what comes before its comment,
 * with runs of blanks counted as one. A longer one is refused as a parse
 * error. Memory stays bounded whatever the input.
 */
#define TRACE_MAX_LINE 4096
/* Every token of a kept line fits. */
#define TRACE_MAX_TOKENS (TRACE_MAX_LINE / 2 + 1)
/* Longest physical line read (comment included): past it the trace is not
 * read further (an input without newlines, such as /dev/zero). */
#define TRACE_MAX_PHYSICAL_LINE (1u << 20)

enum cmd_kind {
	CMD_VM,
	CMD_USE,
	CMD_CLOSE,
	CMD_BO,
	CMD_MAP,
	CMD_UNMAP,
	CMD_PREFETCH,
	CMD_MADVISE,
	CMD_BO_UNMAP,
	CMD_DUMP,
	CMD_OBTAIN,
	CMD_PUT,
	CMD_PUT_DEFERRED,
	CMD_CLEANUP,
	CMD_EVICT,
	CMD_VALIDATE,
	CMD_STATE,
};

/*
 * One parsed command. The strings point into the line it was parsed from.
 * @num holds the numbers in argument order (map: addr, range, offset).
 */
struct cmd {
	enum cmd_kind kind;
	unsigned int ntok;
	uint64_t num[3];
	unsigned int nnum;
	const char *obj; /* the object argument; NULL for `-` */
	const char *name; /* vm, use, close: the VM name; NULL if none */
	bool ext; /* bo ... ext */
	bool resv_protected; /* vm ... resv-protected */
	bool staged; /* vm ... staged */
	uint64_t reserve_addr, reserve_range; /* vm ... reserve A R */
	/* Last: large, and only the first @ntok entries are set. */
	char *tok[TRACE_MAX_TOKENS];
	bool is_num[TRACE_MAX_TOKENS]; /* echoed as lowercase hex */
};

/* A line as read: its text, or why it cannot be used. */
struct trace_line {
	char buf[TRACE_MAX_LINE + 2];
	unsigned long lineno;
	const char *bad; /* set: the line is refused with this reason */
};

#define TRACE_READ_ERROR (-1)
#define TRACE_TOO_LONG (-2)

/**
 * trace_read_line() - read the next line of @in into @l
 *
 * A line ends at a newline (a CR right before it belongs to the line end)
 * or at the end of the input. Its comment is dropped as it is read, and
 * runs of blanks are kept as one space. A NUL byte or a lone CR before
 * the comment, or command text longer than TRACE_MAX_LINE, set @l->bad
 * (the line is then refused as a parse error). A physical line longer
 * than TRACE_MAX_PHYSICAL_LINE ends the reading.
 *
 * Return: 1 a line was read (@l->lineno is its number); 0 end of input;
 * TRACE_READ_ERROR (errno set); TRACE_TOO_LONG.
 */
int trace_read_line(FILE *in, struct trace_line *l);

/**
 * trace_parse() - split @line (modified in place) and parse it into @c
 * @msg: receives the reason when the line does not parse
 *
 * Return: 1 a command; 0 an empty or comment-only line; -1 a parse error
 * (@c->tok/@c->ntok still hold the tokens, for the echo).
 */
int trace_parse(char *line, struct cmd *c, char *msg, size_t msg_size);

/* Print `> ` and the tokens of @c, numbers as lowercase hex, then \n. */
void trace_echo(FILE *out, const struct cmd *c);

/* Whether @s is a valid object or VM name: [A-Za-z_][A-Za-z0-9_.-]* */
bool trace_valid_name(const char *s);

/* The grammar in brief, for --help. */
extern const char trace_grammar[];

#endif /* GPUVM_REPLAY_TRACE_H */
