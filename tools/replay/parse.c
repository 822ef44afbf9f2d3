// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay: reading and parsing trace lines (trace.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <gpuvm/common.h>

#include "trace.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * Argument signatures: n number, f flag (0 or 1), o object name or `-`,
 * N object name, V VM name. The optional name and the trailing keywords
 * of `vm`, and `ext` of `bo`, are parsed separately.
 */
static const struct {
	const char *word;
	enum cmd_kind kind;
	const char *sig;
} commands[] = {
	{ "vm", CMD_VM, "nn" },
	{ "use", CMD_USE, "V" },
	{ "close", CMD_CLOSE, "V" },
	{ "bo", CMD_BO, "Nn" },
	{ "map", CMD_MAP, "nnon" },
	{ "unmap", CMD_UNMAP, "nn" },
	{ "prefetch", CMD_PREFETCH, "nn" },
	{ "madvise", CMD_MADVISE, "nn" },
	{ "bo-unmap", CMD_BO_UNMAP, "o" },
	{ "dump", CMD_DUMP, "" },
	{ "obtain", CMD_OBTAIN, "o" },
	{ "put", CMD_PUT, "o" },
	{ "put-deferred", CMD_PUT_DEFERRED, "o" },
	{ "cleanup", CMD_CLEANUP, "" },
	{ "evict", CMD_EVICT, "of" },
	{ "validate", CMD_VALIDATE, "" },
	{ "state", CMD_STATE, "" },
};

const char trace_grammar[] =
	"Trace format (version 2; every version-1 trace is valid):\n"
	"  one command per line; '#' starts a comment; numbers are decimal\n"
	"  or 0x-hex; names match [A-Za-z_][A-Za-z0-9_.-]*; '-' as OBJ is\n"
	"  no object (a sparse mapping).\n"
	"\n"
	"  vm [NAME] START RANGE [reserve ADDR RANGE] [resv-protected] [staged]\n"
	"                          create a VM and make it current\n"
	"  use NAME | close NAME   switch to / tear down a VM\n"
	"  bo NAME SIZE [ext]      a GEM object (private to the current VM\n"
	"                          unless ext)\n"
	"  map ADDR RANGE OBJ OFFSET | unmap ADDR RANGE | madvise ADDR RANGE\n"
	"  prefetch ADDR RANGE | bo-unmap OBJ\n"
	"                          split/merge: print the ops, then apply them\n"
	"  obtain OBJ | put OBJ | put-deferred OBJ | cleanup\n"
	"                          vm_bo references and deferred cleanup\n"
	"  evict OBJ 0|1           mark OBJ's vm_bo in every VM (un)evicted\n"
	"  validate | state | dump validate, list vm_bos, list mappings\n";

/* ---- reading ------------------------------------------------------------ */

int trace_read_line(FILE *in, struct trace_line *l)
{
	bool comment = false, blank = false, pending_cr = false;
	bool nul = false, cr = false, too_long = false;
	size_t len = 0, physical = 0;
	int ch;

	l->bad = NULL;
	ch = getc(in);
	if (ch == EOF)
		return ferror(in) ? TRACE_READ_ERROR : 0;
	l->lineno++;
	for (; ch != EOF && ch != '\n'; ch = getc(in)) {
		if (++physical > TRACE_MAX_PHYSICAL_LINE)
			return TRACE_TOO_LONG;
		if (pending_cr && !comment)
			cr = true; /* a CR not followed by the newline */
		pending_cr = ch == '\r';
		if (pending_cr || comment)
			continue;
		if (ch == '#') {
			comment = true;
			continue;
		}
		if (ch == ' ' || ch == '\t') {
			blank = true;
			continue;
		}
		if (blank && len) {
			if (len < TRACE_MAX_LINE)
				l->buf[len++] = ' ';
			else
				too_long = true;
		}
		blank = false;
		nul |= ch == '\0';
		if (len < TRACE_MAX_LINE)
			l->buf[len++] = ch ? (char)ch : ' ';
		else
			too_long = true;
	}
	if (ch == EOF && ferror(in))
		return TRACE_READ_ERROR;
	l->buf[len] = '\0';
	if (nul)
		l->bad = "NUL byte in the line";
	else if (cr)
		l->bad = "carriage return inside the line";
	else if (too_long)
		l->bad = "line too long (more than " STR(
			TRACE_MAX_LINE) " bytes of command text)";
	return 1;
}

/* ---- tokens, numbers, names --------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Split @line in place; a comment ends it. Return: the token count, or
 * TRACE_MAX_TOKENS + 1 when there are more (cannot happen for a line
 * trace_read_line() kept). */
static unsigned int tokenize(char *line, char **tok)
{
	unsigned int n = 0;
	char *p = strchr(line, '#');

	if (p)
		*p = '\0';
	p = line;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		if (n == TRACE_MAX_TOKENS)
			return TRACE_MAX_TOKENS + 1;
		tok[n++] = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Unsigned 64-bit, decimal or 0x-prefixed hexadecimal. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '0' && s[1] == 'x') {
		s += 2;
		if (!*s)
			return false;
		for (; *s; s++) {
			int d = hex_digit(*s);

			if (d < 0 || v >> 60)
				return false;
			v = v << 4 | (uint64_t)d;
		}
	} else {
		if (!*s)
			return false;
		for (; *s; s++) {
			unsigned int d = (unsigned int)(*s - '0');

			if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
				return false;
			v = v * 10 + d;
		}
	}
	*out = v;
	return true;
}

static bool is_alpha(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       ch == '_';
}

bool trace_valid_name(const char *s)
{
	if (!is_alpha(*s))
		return false;
	for (s++; *s; s++)
		if (!is_alpha(*s) && !(*s >= '0' && *s <= '9') && *s != '.' &&
		    *s != '-')
			return false;
	return true;
}

/* ---- commands ----------------------------------------------------------- */

struct parse_error {
	char *msg;
	size_t size;
};

static bool fail(struct parse_error *pe, const char *fmt, ...)
	GPUVM_PRINTF(2, 3);

static bool fail(struct parse_error *pe, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pe->msg, pe->size, fmt, ap);
	va_end(ap);
	return false;
}

static bool number_at(struct cmd *c, unsigned int i, uint64_t *v,
		      struct parse_error *pe)
{
	if (!parse_u64(c->tok[i], v))
		return fail(pe, "bad number '%s'", c->tok[i]);
	c->is_num[i] = true;
	return true;
}

static bool name_at(struct cmd *c, unsigned int i, const char **out,
		    bool dash_ok, struct parse_error *pe)
{
	if (dash_ok && !strcmp(c->tok[i], "-")) {
		*out = NULL;
		return true;
	}
	if (!trace_valid_name(c->tok[i]))
		return fail(pe, "bad %s name '%s'",
			    c->kind == CMD_USE || c->kind == CMD_CLOSE ?
				    "VM" :
				    "object",
			    c->tok[i]);
	*out = c->tok[i];
	return true;
}

/* The keywords after `vm START RANGE`, each at most once, any order. */
static bool parse_vm_options(struct cmd *c, unsigned int *ip,
			     struct parse_error *pe)
{
	bool reserve = false;
	unsigned int i = *ip;

	while (i < c->ntok) {
		const char *t = c->tok[i];

		if (!strcmp(t, "reserve") && !reserve) {
			if (i + 2 >= c->ntok)
				return fail(pe, "'reserve' needs an address "
						"and a range");
			if (!number_at(c, i + 1, &c->reserve_addr, pe) ||
			    !number_at(c, i + 2, &c->reserve_range, pe))
				return false;
			reserve = true;
			i += 3;
		} else if (!strcmp(t, "resv-protected") && !c->resv_protected) {
			c->resv_protected = true;
			i++;
		} else if (!strcmp(t, "staged") && !c->staged) {
			c->staged = true;
			i++;
		} else if (!strcmp(t, "reserve") ||
			   !strcmp(t, "resv-protected") ||
			   !strcmp(t, "staged")) {
			return fail(pe, "'vm': '%s' given twice", t);
		} else {
			break;
		}
	}
	*ip = i;
	return true;
}

/* Parse the tokens after the command word against @sig. */
static bool parse_args(struct cmd *c, const char *sig, struct parse_error *pe)
{
	unsigned int i = 1;
	uint64_t v;

	/* `vm NAME ...`: a token that is a name names the VM. */
	if (c->kind == CMD_VM && i < c->ntok && trace_valid_name(c->tok[i]))
		c->name = c->tok[i++];

	for (; *sig; sig++, i++) {
		if (i >= c->ntok)
			return fail(pe, "'%s': missing argument", c->tok[0]);
		switch (*sig) {
		case 'n':
		case 'f':
			if (!number_at(c, i, &v, pe))
				return false;
			if (*sig == 'f' && v > 1)
				return fail(pe, "bad flag '%s' (0 or 1)",
					    c->tok[i]);
			c->num[c->nnum++] = v;
			break;
		case 'o':
		case 'N':
			if (!name_at(c, i, &c->obj, *sig == 'o', pe))
				return false;
			break;
		case 'V':
			if (!name_at(c, i, &c->name, false, pe))
				return false;
			break;
		}
	}

	if (c->kind == CMD_BO && i < c->ntok && !strcmp(c->tok[i], "ext")) {
		c->ext = true;
		i++;
	}
	if (c->kind == CMD_VM && !parse_vm_options(c, &i, pe))
		return false;
	if (i < c->ntok)
		return fail(pe, "'%s': unexpected argument '%s'", c->tok[0],
			    c->tok[i]);
	return true;
}

int trace_parse(char *line, struct cmd *c, char *msg, size_t msg_size)
{
	struct parse_error pe = { msg, msg_size };
	unsigned int n;
	size_t i;

	/* Everything but the token arrays (large): those are set below. */
	memset(c, 0, offsetof(struct cmd, tok));
	n = tokenize(line, c->tok);
	memset(c->is_num, 0,
	       (n < TRACE_MAX_TOKENS ? n : TRACE_MAX_TOKENS) *
		       sizeof(c->is_num[0]));
	if (!n)
		return 0;
	if (n > TRACE_MAX_TOKENS) {
		c->ntok = TRACE_MAX_TOKENS; /* echo what was kept */
		fail(&pe, "too many arguments");
		return -1;
	}
	c->ntok = n;
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(c->tok[0], commands[i].word))
			break;
	if (i == ARRAY_SIZE(commands)) {
		fail(&pe, "unknown command '%s'", c->tok[0]);
		return -1;
	}
	c->kind = commands[i].kind;
	if (!parse_args(c, commands[i].sig, &pe)) {
		/* Echoed as given: no number is rewritten. */
		memset(c->is_num, 0, c->ntok * sizeof(c->is_num[0]));
		return -1;
	}
	return 1;
}

void trace_echo(FILE *out, const struct cmd *c)
{
	unsigned int i;

	fputc('>', out);
	for (i = 0; i < c->ntok; i++) {
		uint64_t v;

		if (c->is_num[i] && parse_u64(c->tok[i], &v))
			fprintf(out, " 0x%" PRIx64, v);
		else
			fprintf(out, " %s", c->tok[i]);
	}
	fputc('\n', out);
}
