// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay [--stats] [TRACE|-]
 * gpuvm-replay [--stats] --demo
 *
 * Runs a trace through libgpuvm and prints what the library did (see
 * README, "Trace format"). Exit status: 0 when the trace ran, 1 when the
 * library warned or leaked, 2 for usage errors or an unreadable trace.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"

static void usage(FILE *f)
{
	fputs("usage: gpuvm-replay [--stats] [TRACE|-]\n"
	      "       gpuvm-replay [--stats] --demo\n"
	      "\n"
	      "Runs a gpuvm trace through libgpuvm and prints the operations.\n"
	      "  --stats  print a summary (commands, ops, errors, time) to "
	      "stderr\n"
	      "  --demo   run the built-in example trace\n"
	      "Exit status: 0 ran, 1 the library warned or leaked, 2 usage "
	      "or read error.\n",
	      f);
}

int main(int argc, char **argv)
{
	struct replay_stats st;
	struct replay_opts opts = { .warn_handler = true, .stats = &st };
	const char *path = NULL, *name;
	bool stats = false, demo = false, only_files = false;
	FILE *in;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!only_files && !strcmp(arg, "--stats")) {
			stats = true;
		} else if (!only_files && !strcmp(arg, "--demo")) {
			demo = true;
		} else if (!only_files &&
			   (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
			usage(stdout);
			return 0;
		} else if (!only_files && !strcmp(arg, "--")) {
			only_files = true;
		} else if (!only_files && arg[0] == '-' && arg[1]) {
			fprintf(stderr, "gpuvm-replay: unknown option '%s'\n",
				arg);
			usage(stderr);
			return REPLAY_USAGE;
		} else if (path) {
			fprintf(stderr, "gpuvm-replay: more than one trace\n");
			usage(stderr);
			return REPLAY_USAGE;
		} else {
			path = arg;
		}
	}
	if (demo && path) {
		fprintf(stderr, "gpuvm-replay: --demo takes no trace\n");
		usage(stderr);
		return REPLAY_USAGE;
	}

	if (demo) {
		name = "<demo>";
		in = fmemopen((void *)replay_demo_trace,
			      strlen(replay_demo_trace), "r");
	} else if (!path || !strcmp(path, "-")) {
		name = "<stdin>";
		in = stdin;
	} else {
		name = path;
		in = fopen(path, "r");
	}
	if (!in) {
		fprintf(stderr, "gpuvm-replay: cannot open '%s': %s\n", name,
			strerror(errno));
		return REPLAY_USAGE;
	}

	ret = replay_run(in, name, stdout, stderr, &opts);
	if (in != stdin)
		fclose(in);
	if (stats)
		replay_print_stats(stderr, &st);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "gpuvm-replay: write error\n");
		return REPLAY_USAGE;
	}
	return ret;
}
