// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay, in-process: parser errors, command errors, the transaction
 * property under allocation faults, and (suite slow, --large) a large
 * random trace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/vm.h>
#include <gpuvm/testing.h>

#include "harness.h"
#include "replay.h"
#include "trace.h"

struct run {
	char *out, *err;
	size_t out_len, err_len;
	struct replay_stats st;
	int ret;
};

static void run_trace(const char *trace, struct run *r)
{
	struct replay_opts opts = { .warn_handler = false, .stats = &r->st };
	FILE *in, *out, *err;

	memset(r, 0, sizeof(*r));
	in = fmemopen((void *)trace, strlen(trace), "r");
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(err);
	r->ret = replay_run(in, "t.trace", out, err, &opts);
	fclose(in);
	fclose(out);
	fclose(err);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* ---- parser ------------------------------------------------------------- */

static const char parse_trace[] =
	"# comment only\n"
	"\n"
	"vm 0x0 0x40000\n" /* 3 */
	"bo a 0x1000\n"
	"frobnicate 1 2\n" /* 5 */
	"map 0x1000 0x1000 a\n"
	"map 0x1000 0x1000 a 0 7\n"
	"map 0x1000 0x10g0 a 0\n"
	"map 0x 0x1000 a 0\n"
	"map 18446744073709551616 0x1000 a 0\n" /* 10 */
	"map 0x10000000000000000 0x1000 a 0\n"
	"map -1 0x1000 a 0\n"
	"map 0x1000 0x1000 9a 0\n"
	"bo - 0x1000\n"
	"bo b$ 0x1000\n" /* 15 */
	"evict a 2\n"
	"dump extra\n"
	"vm 0x0 0x1000 reserve 0x0\n"
	"bo c 0x1000 ext ext\n"
	"  map\t0x2000   0x1000 a 18446744073709551615  # ok\n" /* 20 */
	"map 0X1000 0x1000 a 0\n"
	"obtain a b\n"
	"dump\n";

static const char parse_expected[] =
	"> vm 0x0 0x40000\n"
	"> bo a 0x1000\n"
	"> frobnicate 1 2\n"
	"error EINVAL\n"
	"> map 0x1000 0x1000 a\n"
	"error EINVAL\n"
	"> map 0x1000 0x1000 a 0 7\n"
	"error EINVAL\n"
	"> map 0x1000 0x10g0 a 0\n"
	"error EINVAL\n"
	"> map 0x 0x1000 a 0\n"
	"error EINVAL\n"
	"> map 18446744073709551616 0x1000 a 0\n"
	"error EINVAL\n"
	"> map 0x10000000000000000 0x1000 a 0\n"
	"error EINVAL\n"
	"> map -1 0x1000 a 0\n"
	"error EINVAL\n"
	"> map 0x1000 0x1000 9a 0\n"
	"error EINVAL\n"
	"> bo - 0x1000\n"
	"error EINVAL\n"
	"> bo b$ 0x1000\n"
	"error EINVAL\n"
	"> evict a 2\n"
	"error EINVAL\n"
	"> dump extra\n"
	"error EINVAL\n"
	"> vm 0x0 0x1000 reserve 0x0\n"
	"error EINVAL\n"
	"> bo c 0x1000 ext ext\n"
	"error EINVAL\n"
	"> map 0x2000 0x1000 a 0xffffffffffffffff\n"
	"map 0x2000+0x1000:a@0xffffffffffffffff\n"
	"> map 0X1000 0x1000 a 0\n"
	"error EINVAL\n"
	"> obtain a b\n"
	"error EINVAL\n"
	"> dump\n"
	"va 0x2000+0x1000:a@0xffffffffffffffff\n"
	"end\n";

static void test_parse_errors(void **state)
{
	static const unsigned int bad_lines[] = { 5,  6,  7,  8,  9,  10,
						  11, 12, 13, 14, 15, 16,
						  17, 18, 19, 21, 22 };
	struct run r;
	char where[32];
	unsigned int i;

	run_trace(parse_trace, &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_string_equal(r.out, parse_expected);
	assert_int_equal(r.st.parse_errors, ARRAY_SIZE(bad_lines));
	assert_int_equal(r.st.errors, ARRAY_SIZE(bad_lines));
	assert_int_equal(r.st.commands, 4);
	assert_int_equal(r.st.lines, 23);
	/* One diagnostic per bad line, naming file and line. */
	for (i = 0; i < ARRAY_SIZE(bad_lines); i++) {
		snprintf(where, sizeof(where), "t.trace:%u: ", bad_lines[i]);
		assert_non_null(strstr(r.err, where));
	}
	assert_non_null(strstr(r.err, "t.trace:5: unknown command"));
	assert_non_null(strstr(r.err, "t.trace:6: 'map': missing argument"));
	assert_non_null(strstr(r.err, "t.trace:8: bad number '0x10g0'"));
	assert_non_null(strstr(r.err, "t.trace:13: bad object name '9a'"));
	assert_non_null(strstr(r.err, "t.trace:16: bad flag '2'"));
	run_free(&r);
}

static void test_vm_first(void **state)
{
	struct run r;

	run_trace("bo a 0x1000\nvm 0x0 0x1000\nmap 0x0 0x1000 a 0\n"
		  "vm 0x0 0x1000\n",
		  &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_string_equal(r.out, "> bo a 0x1000\nerror EINVAL\n"
				   "> vm 0x0 0x1000\nerror EINVAL\n"
				   "> map 0x0 0x1000 a 0x0\nerror EINVAL\n"
				   "> vm 0x0 0x1000\nerror EINVAL\n");
	assert_int_equal(r.st.parse_errors, 0);
	/* Every error line has its reason, with file and line. */
	assert_int_equal(count_lines(r.err), 4);
	assert_non_null(strstr(r.err, "t.trace:1: error EINVAL: the trace has "
				      "no VM: its first command must be a vm"));
	assert_non_null(strstr(r.err, "t.trace:4: error EINVAL: the trace has "
				      "no VM"));
	run_free(&r);

	run_trace("vm 0x0 0x1000\nvm 0x0 0x1000\n", &r);
	assert_string_equal(r.out, "> vm 0x0 0x1000\n"
				   "> vm 0x0 0x1000\nerror EINVAL\n");
	run_free(&r);

	/* An overflowing window or reserved region is refused. */
	run_trace("vm 0xffffffffffff0000 0x20000\n"
		  "vm 0x0 0x1000 reserve 0xffffffffffffffff 0x2\n",
		  &r);
	assert_string_equal(r.out,
			    "> vm 0xffffffffffff0000 0x20000\nerror EINVAL\n"
			    "> vm 0x0 0x1000 reserve 0xffffffffffffffff 0x2\n"
			    "error EINVAL\n");
	run_free(&r);
}

/* ---- command errors ----------------------------------------------------- */

static const char errors_trace[] = "vm 0x0 0x40000 reserve 0x30000 0x1000\n"
				   "bo a 0x1000\n"
				   "bo a 0x2000\n"
				   "bo x 0x1000 ext\n"
				   "map 0x1000 0x1000 nosuch 0\n"
				   "map 0x0 0x0 nosuch 0\n"
				   "map 0x1000 0x0 a 0\n"
				   "map 0x3f000 0x2000 a 0\n"
				   "map 0x30000 0x1000 a 0\n"
				   "map 0x2f000 0x2000 - 0\n"
				   "unmap 0x0 0x0\n"
				   "unmap 0x40000 0x1000\n"
				   "obtain nosuch\n"
				   "obtain -\n"
				   "put a\n"
				   "put-deferred a\n"
				   "put nosuch\n"
				   "put-deferred -\n"
				   "evict a 1\n"
				   "evict - 0\n"
				   "evict nosuch 0\n"
				   "bo-unmap -\n"
				   "bo-unmap nosuch\n"
				   "bo-unmap a\n"
				   "vm 0x0 0x1000\n"
				   "validate\n"
				   "cleanup\n"
				   "state\n"
				   "dump\n"
				   "prefetch 0x0 0x40000\n"
				   "unmap 0x0 0x30000\n";

static const char errors_expected[] =
	"> vm 0x0 0x40000 reserve 0x30000 0x1000\n"
	"> bo a 0x1000\n"
	"> bo a 0x2000\n"
	"error EEXIST\n"
	"> bo x 0x1000 ext\n"
	"> map 0x1000 0x1000 nosuch 0x0\n"
	"error ENOENT\n"
	"> map 0x0 0x0 nosuch 0x0\n"
	"error ENOENT\n"
	"> map 0x1000 0x0 a 0x0\n"
	"error EINVAL\n"
	"> map 0x3f000 0x2000 a 0x0\n"
	"error EINVAL\n"
	"> map 0x30000 0x1000 a 0x0\n"
	"error EINVAL\n"
	"> map 0x2f000 0x2000 - 0x0\n"
	"error EINVAL\n"
	"> unmap 0x0 0x0\n"
	"error EINVAL\n"
	"> unmap 0x40000 0x1000\n"
	"error EINVAL\n"
	"> obtain nosuch\n"
	"error ENOENT\n"
	"> obtain -\n"
	"error ENOENT\n"
	"> put a\n"
	"error EINVAL\n"
	"> put-deferred a\n"
	"error EINVAL\n"
	"> put nosuch\n"
	"error ENOENT\n"
	"> put-deferred -\n"
	"error ENOENT\n"
	"> evict a 0x1\n"
	"error ENOENT\n"
	"> evict - 0x0\n"
	"error ENOENT\n"
	"> evict nosuch 0x0\n"
	"error ENOENT\n"
	"> bo-unmap -\n"
	"error ENOENT\n"
	"> bo-unmap nosuch\n"
	"error ENOENT\n"
	"> bo-unmap a\n"
	"> vm 0x0 0x1000\n"
	"error EINVAL\n"
	"> validate\n"
	"> cleanup\n"
	"> state\n"
	"end\n"
	"> dump\n"
	"end\n"
	"> prefetch 0x0 0x40000\n"
	"prefetch 0x30000+0x1000:-@0x0\n"
	"> unmap 0x0 0x30000\n";

static void test_command_errors(void **state)
{
	struct run r;

	run_trace(errors_trace, &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_string_equal(r.out, errors_expected);
	assert_int_equal(r.st.parse_errors, 0);
	assert_int_equal(r.st.errors, 21);
	assert_int_equal(r.st.ops[REPLAY_OP_PREFETCH], 1);
	/* One reason per error line, naming the file and the line. */
	assert_int_equal(count_lines(r.err), 21);
	assert_non_null(strstr(r.err, "t.trace:3: error EEXIST: an object "
				      "named 'a' exists\n"));
	assert_non_null(strstr(r.err, "t.trace:5: error ENOENT: no object "
				      "named 'nosuch'\n"));
	assert_non_null(strstr(r.err, "t.trace:7: error EINVAL: map: [0x1000, "
				      "+0x0) is not a valid range"));
	assert_non_null(strstr(r.err, "t.trace:15: error EINVAL: no reference "
				      "to 'a' was obtained in VM 'vm'\n"));
	assert_non_null(strstr(r.err, "t.trace:19: error ENOENT: 'a' has no "
				      "vm_bo in any VM\n"));
	assert_non_null(strstr(r.err, "t.trace:25: error EINVAL: every vm "
				      "after the first needs a name\n"));
	run_free(&r);
}

/* The vm_bo lifecycle with explicit references, in both list modes. */
static void check_lifecycle(const char *vm_line)
{
	static const char body[] = "bo a 0x1000\n"
				   "bo x 0x1000 ext\n"
				   "obtain x\n"
				   "obtain x\n"
				   "map 0x0 0x1000 x 0\n"
				   "put x\n"
				   "state\n"
				   "put-deferred x\n"
				   "state\n"
				   "unmap 0x0 0x1000\n"
				   "state\n"
				   "obtain a\n"
				   "put-deferred a\n"
				   "obtain a\n"
				   "cleanup\n"
				   "put a\n"
				   "put a\n";
	static const char expected[] =
		"> bo a 0x1000\n"
		"> bo x 0x1000 ext\n"
		"> obtain x\n"
		"vm_bo x refs=1\n"
		"> obtain x\n"
		"vm_bo x refs=2\n"
		"> map 0x0 0x1000 x 0x0\n"
		"map 0x0+0x1000:x@0x0\n"
		"> put x\n"
		"vm_bo x refs=2\n"
		"> state\n"
		"vm_bo x refs=2 evicted=0 extobj=1 evict-list=0 vas=1\n"
		"end\n"
		"> put-deferred x\n"
		"vm_bo x refs=1\n"
		"> state\n"
		"vm_bo x refs=1 evicted=0 extobj=1 evict-list=0 vas=1\n"
		"end\n"
		"> unmap 0x0 0x1000\n"
		"unmap 0x0+0x1000:x@0x0 keep=0\n"
		"> state\n"
		"end\n"
		"> obtain a\n"
		"vm_bo a refs=1\n"
		"> put-deferred a\n"
		"vm_bo a deferred\n"
		"> obtain a\n"
		"vm_bo a refs=1\n"
		"> cleanup\n"
		"freed a\n"
		"> put a\n"
		"vm_bo a freed\n"
		"> put a\n"
		"error EINVAL\n";
	char trace[1024], want[2048];
	struct run r;

	snprintf(trace, sizeof(trace), "%s\n%s", vm_line, body);
	snprintf(want, sizeof(want), "> %s\n%s", vm_line, expected);
	run_trace(trace, &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_string_equal(r.out, want);
	run_free(&r);
}

static void test_lifecycle(void **state)
{
	check_lifecycle("vm 0x0 0x10000");
	check_lifecycle("vm 0x0 0x10000 resv-protected");
}

static void test_demo(void **state)
{
	struct run r;

	run_trace(replay_demo_trace, &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_int_equal(r.st.parse_errors, 0);
	assert_int_equal(r.st.errors, 0);
	assert_int_equal(r.st.warnings, 0);
	assert_true(r.st.ops[REPLAY_OP_REMAP] > 0);
	assert_non_null(strstr(r.out, "validate shared\n"));
	assert_non_null(strstr(r.out, "freed cmd\n"));
	/* Two VMs share one object: one evict marks both vm_bos; only the
	 * unprotected VM has it on its evict list before validate. */
	assert_non_null(strstr(r.out, "> vm compositor "));
	assert_non_null(strstr(r.out, "vm_bo shared refs=1 evicted=1 extobj=1 "
				      "evict-list=0 vas=1\n"));
	assert_non_null(strstr(r.out, "vm_bo shared refs=1 evicted=1 extobj=1 "
				      "evict-list=1 vas=1\n"));
	assert_non_null(strstr(r.out, "> close client\n"));
	assert_string_equal(r.err, "");
	run_free(&r);
}

/* ---- version 2: reasons, --strict, bad input ----------------------------- */

static const char v2_errors_trace[] = "vm a 0x0 0x100000\n"
				      "bo pa 0x1000\n"
				      "bo x 0x1000 ext\n"
				      "map 0x0 0x1000 x 0\n"
				      "vm s 0x0 0x100000 staged\n" /* 5 */
				      "map 0x0 0x1000 pa 0\n"
				      "obtain x\n"
				      "put-deferred x\n"
				      "use nosuch\n"
				      "vm a 0x0 0x1000\n" /* 10 */
				      "vm b 0xffffffffffff0000 0x20000\n"
				      "close s\n"
				      "state\n"
				      "bo p2 0x1000\n"
				      "use s\n" /* 15 */
				      "use a\n"
				      "put x\n";

static void test_v2_reasons(void **state)
{
	struct run r;

	run_trace(v2_errors_trace, &r);
	assert_int_equal(r.ret, REPLAY_OK);
	assert_int_equal(r.st.errors, 10);
	assert_int_equal(count_lines(r.err), 10);
	assert_non_null(strstr(r.err, "t.trace:6: error EINVAL: 'pa' is "
				      "private to VM 'a' and cannot be used "
				      "in VM 's'\n"));
	assert_non_null(strstr(r.err, "t.trace:7: error EINVAL: 'x' is used "
				      "in immediate-mode VMs and cannot be "
				      "used in staged VM 's'"));
	assert_non_null(strstr(r.err, "t.trace:8: error EINVAL: put-deferred "
				      "needs an immediate-mode VM"));
	assert_non_null(strstr(r.err, "t.trace:9: error ENOENT: no VM named "
				      "'nosuch'\n"));
	assert_non_null(strstr(r.err, "t.trace:10: error EEXIST: a VM named "
				      "'a' exists"));
	assert_non_null(strstr(r.err, "t.trace:11: error EINVAL: the VM's "
				      "window or reserved region overflows"));
	assert_non_null(strstr(r.err, "t.trace:13: error EINVAL: no current "
				      "VM"));
	assert_non_null(strstr(r.err, "t.trace:14: error EINVAL: a private "
				      "object needs a current VM"));
	assert_non_null(strstr(r.err, "t.trace:15: error ENOENT: VM 's' was "
				      "closed\n"));
	assert_non_null(strstr(r.err, "t.trace:17: error EINVAL: no reference "
				      "to 'x' was obtained in VM 'a'\n"));
	run_free(&r);
}

static int run_strict(const char *trace)
{
	struct replay_opts opts = { .strict = true };
	FILE *in = fmemopen((void *)trace, strlen(trace), "r");
	FILE *out = fopen("/dev/null", "w"), *err = fopen("/dev/null", "w");
	int ret;

	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(err);
	ret = replay_run(in, "t.trace", out, err, &opts);
	fclose(in);
	fclose(out);
	fclose(err);
	return ret;
}

static void test_strict(void **state)
{
	assert_int_equal(run_strict("vm 0 0x10000\nbo a 0x1000\n"
				    "map 0 0x1000 a 0\n"),
			 REPLAY_OK);
	/* A typo (parse error) and a failing command both fail the run. */
	assert_int_equal(run_strict("vm 0 0x10000\nbo a 0x1000\n"
				    "mpa 0 0x1000 a 0\n"),
			 REPLAY_STRICT);
	assert_int_equal(run_strict("vm 0 0x10000\nmap 0 0x1000 nosuch 0\n"),
			 REPLAY_STRICT);
	/* Without --strict the same trace ran. */
	{
		struct run r;

		run_trace("vm 0 0x10000\nmap 0 0x1000 nosuch 0\n", &r);
		assert_int_equal(r.ret, REPLAY_OK);
		run_free(&r);
	}
}

static void test_bad_input(void **state)
{
	static const char nul_cr[] = "vm 0 0x10000\nbo b 0x1000\n"
				     "map 0 0x1000 b 0\0 junk\n"
				     "map 0 0x1000 b 0\rjunk\n"
				     "map 0 0x1000 b 0\r\n"
				     "dump\n";
	struct replay_opts opts = { 0 };
	struct replay_stats st;
	char *out_buf = NULL, *err_buf = NULL, *big;
	size_t out_len = 0, err_len = 0, n, pos;
	FILE *in, *out, *err;
	int ret;

	/* A NUL byte or a lone CR: the line is refused, the replay goes
	 * on; CR LF is a line end. */
	opts.stats = &st;
	in = fmemopen((void *)nul_cr, sizeof(nul_cr) - 1, "r");
	out = open_memstream(&out_buf, &out_len);
	err = open_memstream(&err_buf, &err_len);
	ret = replay_run(in, "t.trace", out, err, &opts);
	fclose(in);
	fclose(out);
	fclose(err);
	assert_int_equal(ret, REPLAY_OK);
	assert_string_equal(out_buf, "> vm 0x0 0x10000\n> bo b 0x1000\n"
				     "> map 0 0x1000 b 0 junk\nerror EINVAL\n"
				     "> map 0 0x1000 b 0junk\nerror EINVAL\n"
				     "> map 0x0 0x1000 b 0x0\n"
				     "map 0x0+0x1000:b@0x0\n"
				     "> dump\nva 0x0+0x1000:b@0x0\nend\n");
	assert_non_null(strstr(err_buf, "t.trace:3: NUL byte in the line\n"));
	assert_non_null(strstr(err_buf,
			       "t.trace:4: carriage return inside the line\n"));
	assert_int_equal(st.parse_errors, 2);
	free(out_buf);
	free(err_buf);

	/* Long lines: a long comment or blank padding is no problem; command
	 * text over TRACE_MAX_LINE is refused as a parse error and the
	 * replay goes on; a physical line over TRACE_MAX_PHYSICAL_LINE ends
	 * the reading (what came before ran and was torn down). */
	n = TRACE_MAX_PHYSICAL_LINE + 16;
	big = malloc(n + 8 * TRACE_MAX_LINE + 256);
	assert_non_null(big);
	pos = (size_t)sprintf(big, "vm 0 0x10000\nbo b 0x1000\ndump #");
	memset(big + pos, 'c', 2 * TRACE_MAX_LINE);
	pos += 2 * TRACE_MAX_LINE;
	pos += (size_t)sprintf(big + pos, "\nmap");
	memset(big + pos, ' ', 2 * TRACE_MAX_LINE);
	pos += 2 * TRACE_MAX_LINE;
	pos += (size_t)sprintf(big + pos, "0 0x1000 b 0\nbo ");
	memset(big + pos, 'x', 2 * TRACE_MAX_LINE);
	pos += 2 * TRACE_MAX_LINE;
	pos += (size_t)sprintf(big + pos, " 0x1000\ndump\n");
	memset(big + pos, 'z', n);
	big[pos + n] = '\0';
	in = fmemopen(big, pos + n, "r");
	out = open_memstream(&out_buf, &out_len);
	err = open_memstream(&err_buf, &err_len);
	ret = replay_run(in, "t.trace", out, err, &opts);
	fclose(in);
	fclose(out);
	fclose(err);
	assert_int_equal(ret, REPLAY_USAGE);
	assert_int_equal(st.leaked, 0);
	assert_int_equal(st.parse_errors, 1);
	assert_non_null(strstr(out_buf, "> dump\nend\n> map 0x0 0x1000 b 0x0\n"
					"map 0x0+0x1000:b@0x0\n"));
	assert_non_null(strstr(out_buf, "error EINVAL\n> dump\n"
					"va 0x0+0x1000:b@0x0\nend\n"));
	assert_non_null(strstr(err_buf, "t.trace:5: line too long"));
	assert_non_null(strstr(err_buf, "t.trace:7: line longer than"));
	free(out_buf);
	free(err_buf);
	free(big);

	/* A read error (a directory) is not a clean end of input. */
	in = fopen("/", "r");
	assert_non_null(in);
	out = open_memstream(&out_buf, &out_len);
	err = open_memstream(&err_buf, &err_len);
	ret = replay_run(in, "dir", out, err, &opts);
	fclose(in);
	fclose(out);
	fclose(err);
	assert_int_equal(ret, REPLAY_USAGE);
	assert_non_null(strstr(err_buf, "cannot read the trace to the end"));
	free(out_buf);
	free(err_buf);
}

/*
 * A transactional driver drops its vm_bo prealloc when a later allocation
 * of the same request fails. Putting a vm_bo that was never published
 * must leave the object's vm_bo bookkeeping alone (regression: the GEM's
 * vm_bo count went below zero).
 */
static void noop_vm_free(struct gpuvm *gpuvm)
{
	(void)gpuvm;
}

static void test_unpublished_prealloc_put(void **state)
{
	static const struct gpuvm_ops ops = { .vm_free = noop_vm_free };
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	struct gpuvm_gem_object obj;
	struct gpuvm_bo *pre, *vm_bo;
	struct gpuvm vm;

	assert_non_null(r_obj);
	memset(&vm, 0, sizeof(vm));
	gpuvm_init(&vm, "t", GPUVM_IMMEDIATE_MODE, r_obj, 0, 0x10000, 0, 0,
		   &ops);
	gpuvm_gem_object_init(&obj, NULL, 0x1000);

	pre = gpuvm_bo_create(&vm, &obj);
	assert_non_null(pre);
	gpuvm_gem_gpuva_lock(&obj);
	assert_true(gpuvm_bo_put(pre));
	gpuvm_gem_gpuva_unlock(&obj);
	assert_true(gpuvm_list_empty(&obj.gpuva.list));
	assert_int_equal(obj.gpuva.nr_vm_bos__, 0); /* private, peeked at */

	/* The object still works: publish one, find it, drop it. */
	pre = gpuvm_bo_create(&vm, &obj);
	assert_non_null(pre);
	vm_bo = gpuvm_bo_obtain_prealloc(pre);
	assert_ptr_equal(vm_bo, pre);
	assert_int_equal(obj.gpuva.nr_vm_bos__, 1);
	gpuvm_gem_gpuva_lock(&obj);
	assert_ptr_equal(gpuvm_bo_find(&vm, &obj), vm_bo);
	assert_false(gpuvm_bo_put(vm_bo));
	assert_true(gpuvm_bo_put(vm_bo));
	assert_true(gpuvm_list_empty(&obj.gpuva.list));
	gpuvm_gem_gpuva_unlock(&obj);

	gpuvm_gem_object_put(&obj);
	gpuvm_put(&vm);
	gpuvm_gem_object_put(r_obj);
}

/* ---- fault sweep -------------------------------------------------------- */

/* Split output into command blocks: each starts at a "> " line. */
struct blocks {
	const char **start;
	size_t *len;
	size_t n;
};

static void split_blocks(const char *out, struct blocks *b)
{
	const char *p;
	size_t cap = 0;

	memset(b, 0, sizeof(*b));
	for (p = out; *p;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p + 1) : strlen(p);

		if (!strncmp(p, "> ", 2)) {
			if (b->n == cap) {
				cap = cap ? 2 * cap : 64;
				b->start = realloc(b->start,
						   cap * sizeof(*b->start));
				b->len = realloc(b->len, cap * sizeof(*b->len));
				assert_non_null(b->start);
				assert_non_null(b->len);
			}
			b->start[b->n] = p;
			b->len[b->n++] = 0;
		}
		assert_true(b->n > 0);
		b->len[b->n - 1] += l;
		p += l;
	}
}

static void blocks_free(struct blocks *b)
{
	free(b->start);
	free(b->len);
}

/* Block index of trace line @line (1-based), or -1 for a silent line. */
static long block_of_line(const char *trace, unsigned long line)
{
	unsigned long n = 1;
	long block = -1;
	const char *p = trace;

	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *q;
		bool content = false;

		for (q = p; *q && *q != '\n' && *q != '#'; q++)
			if (*q != ' ' && *q != '\t')
				content = true;
		if (content)
			block++;
		if (n == line)
			return content ? block : -1;
		if (!eol)
			break;
		p = eol + 1;
		n++;
	}
	return -1;
}

/* @trace with line @line turned into a comment. */
static char *comment_out_line(const char *trace, unsigned long line)
{
	size_t len = strlen(trace);
	char *s = malloc(len + 2);
	const char *p = trace;
	unsigned long n = 1;

	assert_non_null(s);
	while (n < line) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
		n++;
	}
	memcpy(s, trace, (size_t)(p - trace));
	s[p - trace] = '#';
	memcpy(s + (p - trace) + 1, p, len - (size_t)(p - trace) + 1);
	return s;
}

/*
 * What a run whose command at block @k failed without changing anything
 * must print: the output of the trace without that command (@ref), with
 * the command's echo (@echo_line) and `error ENOMEM` in its place.
 */
static char *expected_enomem(const char *ref, const char *echo_line, long k)
{
	size_t echo_len = (size_t)(strchr(echo_line, '\n') - echo_line + 1);
	char *s = malloc(strlen(ref) + echo_len + 32);
	struct blocks b;
	size_t at;

	assert_non_null(s);
	split_blocks(ref, &b);
	assert_true((size_t)k <= b.n);
	at = (size_t)k < b.n ? (size_t)(b.start[k] - ref) : strlen(ref);
	memcpy(s, ref, at);
	memcpy(s + at, echo_line, echo_len);
	strcpy(s + at + echo_len, "error ENOMEM\n");
	strcat(s, ref + at);
	blocks_free(&b);
	return s;
}

/*
 * Run @trace with its n-th allocation failing, for every n until a run
 * hits no fault. Each run must leak nothing, and either the fault was
 * absorbed (the output is the fault-free one), or the command that hit it
 * answered `error ENOMEM` and changed nothing: the output is exactly that
 * of the trace without the command, with its echo and the error in its
 * place. Every later command thus sees the state as it was before.
 */
static void fault_sweep(const char *trace)
{
	unsigned long n, failed = 0, absorbed = 0;
	struct blocks b;
	struct run base;

	run_trace(trace, &base);
	assert_int_equal(base.ret, REPLAY_OK);
	assert_int_equal(base.st.errors, 0);
	split_blocks(base.out, &b);

	for (n = 1;; n++) {
		long live = gpuvm_alloc_live();
		struct run r, ref;
		bool fired;
		char *skip, *want;
		long k;

		gpuvm_alloc_fail_nth(n);
		run_trace(trace, &r);
		fired = gpuvm_alloc_fault_fired();
		gpuvm_alloc_fail_nth(0);
		assert_int_equal(r.st.leaked, 0);
		assert_int_equal(gpuvm_alloc_live(), live);

		if (!fired) {
			assert_int_equal(r.ret, REPLAY_OK);
			assert_string_equal(r.out, base.out);
			run_free(&r);
			break;
		}
		if (r.st.fault_line == REPLAY_FAULT_TEARDOWN ||
		    !strcmp(r.out, base.out)) {
			/* Absorbed: the command did what it does anyway. */
			assert_string_equal(r.out, base.out);
			assert_int_equal(harness_warnings(NULL), 0);
			absorbed++;
			run_free(&r);
			continue;
		}

		k = block_of_line(trace, r.st.fault_line);
		assert_true(k >= 0 && (size_t)k < b.n);
		/* Indexing the reserved region can only warn: gpuvm_init()
		 * returns nothing. The tool then fails the vm command. */
		if (!strncmp(b.start[k], "> vm ", 5))
			harness_take_warnings(GPUVM_RULE_VM_INIT_NOMEM);
		assert_int_equal(harness_warnings(NULL), 0);

		skip = comment_out_line(trace, r.st.fault_line);
		run_trace(skip, &ref);
		want = expected_enomem(ref.out, b.start[k], k);
		assert_string_equal(r.out, want);
		failed++;
		free(want);
		free(skip);
		run_free(&ref);
		run_free(&r);
	}
	print_message("# %lu allocation points: %lu commands failed cleanly, "
		      "%lu faults absorbed\n",
		      n - 1, failed, absorbed);
	assert_true(failed > 10);
	blocks_free(&b);
	run_free(&base);
}

static const char sweep_body[] = "bo a 0x100000\n"
				 "bo b 0x100000\n"
				 "bo x 0x100000 ext\n"
				 "bo y 0x1000 ext\n"
				 "map 0x10000 0x8000 a 0x0\n"
				 "map 0x12000 0x2000 b 0x0\n"
				 "map 0x20000 0x4000 x 0x0\n"
				 "map 0x30000 0x10000 - 0x0\n"
				 "map 0x34000 0x1000 a 0x4000\n"
				 "obtain x\n"
				 "obtain b\n"
				 "evict x 1\n"
				 "evict a 1\n"
				 "state\n"
				 "validate\n"
				 "unmap 0x11000 0x4000\n"
				 "prefetch 0x0 0x100000\n"
				 "put-deferred b\n"
				 "map 0x50000 0x1000 b 0x0\n"
				 "cleanup\n"
				 "bo-unmap a\n"
				 "put x\n"
				 "map 0x20000 0x2000 x 0x0\n"
				 "obtain y\n"
				 "put-deferred y\n"
				 "obtain a\n"
				 "dump\n"
				 "state\n";

static void test_fault_sweep_plain(void **state)
{
	char trace[2048];

	snprintf(trace, sizeof(trace),
		 "vm 0x0 0x100000 reserve 0xf0000 0x10000\n%s", sweep_body);
	fault_sweep(trace);
}

static void test_fault_sweep_resv_protected(void **state)
{
	char trace[2048];

	snprintf(trace, sizeof(trace),
		 "vm 0x0 0x100000 reserve 0xf0000 0x10000 resv-protected\n%s",
		 sweep_body);
	fault_sweep(trace);
}

/*
 * Version 2: two VMs sharing external objects, a private object each,
 * madvise, evict across VMs, validate per VM, close. %1$s are the VMs'
 * mode keywords; deferred puts only where the VMs are immediate.
 */
static void fault_sweep_v2(const char *mode, bool immediate)
{
	char trace[4096];

	snprintf(trace, sizeof(trace),
		 "vm a 0x0 0x100000 reserve 0xf0000 0x10000 %s\n"
		 "bo pa 0x100000\n"
		 "bo x 0x100000 ext\n"
		 "bo y 0x10000 ext\n"
		 "map 0x10000 0x8000 pa 0x0\n"
		 "map 0x20000 0x4000 x 0x0\n"
		 "map 0x30000 0x10000 - 0x0\n"
		 "madvise 0x34000 0x2000\n"
		 "vm b 0x0 0x100000 %s\n"
		 "bo pb 0x10000\n"
		 "map 0x8000 0x4000 x 0x4000\n"
		 "map 0x10000 0x1000 pb 0x0\n"
		 "obtain y\n"
		 "obtain x\n"
		 "evict x 1\n"
		 "evict pb 1\n"
		 "state\n"
		 "validate\n"
		 "use a\n"
		 "state\n"
		 "validate\n"
		 "unmap 0x11000 0x4000\n"
		 "%s"
		 "bo-unmap pa\n"
		 "obtain y\n"
		 "madvise 0x2f000 0x3000\n"
		 "dump\n"
		 "close a\n"
		 "use b\n"
		 "evict x 0\n"
		 "put x\n"
		 "state\n"
		 "dump\n",
		 mode, mode,
		 immediate ? "obtain pa\nput-deferred pa\ncleanup\n" :
			     "obtain pa\nput pa\n");
	fault_sweep(trace);
}

static void test_fault_sweep_v2_staged(void **state)
{
	fault_sweep_v2("staged", false);
}

static void test_fault_sweep_v2_staged_resv_protected(void **state)
{
	fault_sweep_v2("staged resv-protected", false);
}

static void test_fault_sweep_v2_immediate(void **state)
{
	fault_sweep_v2("", true);
}

static void test_fault_sweep_v2_immediate_resv_protected(void **state)
{
	fault_sweep_v2("resv-protected", true);
}

/* ---- a large random trace (suite slow) ---------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

#define LARGE_BOS 32
#define LARGE_PAGES 0xff00ull /* window of 0x10000 pages, top 0x100 reserved */

static char *large_trace(unsigned long ncmds, uint64_t seed)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned long i;

	assert_non_null(f);
	rng_state = seed;
	fprintf(f, "vm 0x0 0x10000000 reserve 0xff00000 0x100000%s\n",
		seed & 1 ? " resv-protected" : "");
	for (i = 0; i < LARGE_BOS; i++)
		fprintf(f, "bo o%lu 0x1000000%s\n", i, i % 4 ? "" : " ext");
	for (i = 0; i < ncmds; i++) {
		unsigned int r = (unsigned int)(rng() % 100);
		unsigned long obj = (unsigned long)(rng() % LARGE_BOS);
		uint64_t pages = 1 + rng() % 16;
		uint64_t page = rng() % (LARGE_PAGES - pages);

		if (r < 45) {
			if (rng() % 10)
				fprintf(f, "map 0x%llx 0x%llx o%lu 0x%llx\n",
					(unsigned long long)page << 12,
					(unsigned long long)pages << 12, obj,
					(unsigned long long)(rng() % 256)
						<< 12);
			else
				fprintf(f, "map 0x%llx 0x%llx - 0x0\n",
					(unsigned long long)page << 12,
					(unsigned long long)pages << 12);
		} else if (r < 65) {
			fprintf(f, "unmap 0x%llx 0x%llx\n",
				(unsigned long long)page << 12,
				(unsigned long long)(pages * 4) << 12);
		} else if (r < 70) {
			fprintf(f, "prefetch 0x%llx 0x%llx\n",
				(unsigned long long)page << 12,
				(unsigned long long)pages << 12);
		} else if (r < 76) {
			fprintf(f, "obtain o%lu\n", obj);
		} else if (r < 80) {
			fprintf(f, "put o%lu\n", obj);
		} else if (r < 84) {
			fprintf(f, "put-deferred o%lu\n", obj);
		} else if (r < 89) {
			fprintf(f, "evict o%lu %u\n", obj,
				(unsigned)(rng() % 2));
		} else if (r < 92) {
			fputs("validate\n", f);
		} else if (r < 95) {
			fputs("cleanup\n", f);
		} else if (r < 98) {
			fprintf(f, "bo-unmap o%lu\n", obj);
		} else if (r < 99) {
			fputs("state\n", f);
		} else if (rng() % 20 == 0) {
			fputs("dump\n", f);
		} else {
			fputs("# a comment line\n", f);
		}
	}
	fclose(f);
	return buf;
}

static void run_large(uint64_t seed)
{
	const unsigned long ncmds = 100000;
	struct replay_opts opts = { 0 };
	struct replay_stats st;
	char *trace = large_trace(ncmds, seed);
	FILE *in = fmemopen(trace, strlen(trace), "r");
	FILE *out = fopen("/dev/null", "w");
	int ret;

	assert_non_null(in);
	assert_non_null(out);
	opts.stats = &st;
	ret = replay_run(in, "large.trace", out, stderr, &opts);
	fclose(in);
	fclose(out);
	free(trace);
	assert_int_equal(ret, REPLAY_OK);
	assert_int_equal(st.parse_errors, 0);
	assert_int_equal(st.leaked, 0);
	print_message("# seed %llu: %lu commands, %lu ops (%lu map, %lu remap, "
		      "%lu unmap), %lu errors in %.1f ms\n",
		      (unsigned long long)seed, st.commands,
		      st.ops[0] + st.ops[1] + st.ops[2] + st.ops[3], st.ops[0],
		      st.ops[1], st.ops[2], st.errors,
		      (double)st.elapsed_ns / 1e6);
	/* A smoke check only; benchmarks measure. Generous for sanitizers. */
	assert_true(st.elapsed_ns < 60ull * 1000000000ull);
}

static void test_large_plain(void **state)
{
	run_large(42);
}

static void test_large_resv_protected(void **state)
{
	run_large(43);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_parse_errors),
		harness_test(test_vm_first),
		harness_test(test_command_errors),
		harness_test(test_lifecycle),
		harness_test(test_demo),
		harness_test(test_unpublished_prealloc_put),
		harness_test(test_fault_sweep_plain),
		harness_test(test_fault_sweep_resv_protected),
		harness_test(test_v2_reasons),
		harness_test(test_strict),
		harness_test(test_bad_input),
		harness_test(test_fault_sweep_v2_staged),
		harness_test(test_fault_sweep_v2_staged_resv_protected),
		harness_test(test_fault_sweep_v2_immediate),
		harness_test(test_fault_sweep_v2_immediate_resv_protected),
	};
	const struct CMUnitTest large_tests[] = {
		harness_test(test_large_plain),
		harness_test(test_large_resv_protected),
	};

	if (argc > 1 && !strcmp(argv[1], "--large"))
		return harness_run("gpuvm/replay-large", large_tests, argc - 1,
				   argv + 1);
	return harness_run("gpuvm/replay", tests, argc, argv);
}
