// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the trace parser and the replay tool, with allocation
 * failures.
 *
 * The input is a trace. If its first byte is a control character other
 * than a tab or a newline, it is not part of the trace: it arms one
 * allocation failure (the n-th allocation of the run fails, n = the byte).
 * Whatever the trace, the replay must finish without a library warning
 * and without a leak, with or without the failure: replay_run() returning
 * REPLAY_WARNED is a finding. The examples (examples/, examples/v2/) are
 * the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/alloc.h>
#include <gpuvm/debug.h>
#include <gpuvm/vm.h>
#include <gpuvm/testing.h>

#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

static unsigned long expected_warnings;

static void on_warning(const char *rule, const char *msg, void *arg)
{
	(void)arg;
	/* gpuvm_init() cannot fail (kernel parity): an injected failure in
	 * it can only be reported. The tool then fails the vm command. */
	if (!strcmp(rule, GPUVM_RULE_VM_INIT_NOMEM) &&
	    gpuvm_alloc_fault_fired()) {
		expected_warnings++;
		return;
	}
	fprintf(stderr, "libgpuvm: WARNING [%s] %s\n", rule, msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_stats st;
	struct replay_opts opts = { .stats = &st };
	unsigned int fail_nth = 0;
	FILE *in;
	int ret;

	if (!sink) {
		sink = fopen("/dev/null", "w");
		if (!sink)
			abort();
		gpuvm_warn_set_handler(on_warning, NULL);
	}
	if (size && data[0] < 0x20 && data[0] != '\t' && data[0] != '\n') {
		fail_nth = data[0];
		data++;
		size--;
	}
	if (!size)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		abort();
	expected_warnings = 0;
	gpuvm_alloc_fail_nth(fail_nth);
	ret = replay_run(in, "fuzz", sink, sink, &opts);
	gpuvm_alloc_fail_nth(0);
	fclose(in);
	/* Warnings abort in the handler; a leak is counted apart. */
	if (st.leaked || (ret == REPLAY_WARNED && !expected_warnings))
		abort();
	return 0;
}
