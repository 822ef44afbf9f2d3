// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay [--stats] [--strict] [--svg FILE] [TRACE|-]
 * gpuvm-replay [--stats] [--strict] [--svg FILE] --demo
 *
 * Runs a trace through libgpuvm and prints what the library did (see
 * README, "gpuvm-replay"). Exit status: 0 when the trace ran, 1 when the
 * library warned or leaked, 2 for usage errors or a trace that could not
 * be read to the end, 3 with --strict when a line or command failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gpuvm/version.h>

#include "replay.h"
#include "svg.h"
#include "trace.h"

static void usage(FILE *f, bool full)
{
	fputs("usage: gpuvm-replay [--stats] [--strict] [--svg FILE] "
	      "[TRACE|-]\n"
	      "       gpuvm-replay [--stats] [--strict] [--svg FILE] --demo\n"
	      "       gpuvm-replay --help | --version\n"
	      "\n"
	      "Runs a gpuvm trace through libgpuvm with a reference driver and\n"
	      "prints the operations the kernel's GPUVM code would produce.\n"
	      "  --stats    print a summary (commands, ops, errors, time) to "
	      "stderr\n"
	      "  --strict   exit 3 when a line does not parse or a command "
	      "fails\n"
	      "  --svg FILE also draw the trace as an SVG picture into FILE\n"
	      "  --demo     run the built-in example trace (two VMs sharing "
	      "an object)\n"
	      "  --version  print the version and the kernel baseline\n"
	      "Exit status: 0 ran, 1 the library warned or leaked, 2 usage "
	      "error or\ntrace not readable to the end, 3 --strict and a "
	      "line failed.\n",
	      f);
	if (full) {
		fputc('\n', f);
		fputs(trace_grammar, f);
	}
}

int main(int argc, char **argv)
{
	struct replay_stats st;
	struct replay_opts opts = { .warn_handler = true, .stats = &st };
	const char *path = NULL, *name, *svg_path = NULL;
	struct svg_rec *svg = NULL;
	bool stats = false, demo = false, only_files = false;
	bool strict = false;
	FILE *in;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!only_files && !strcmp(arg, "--stats")) {
			stats = true;
		} else if (!only_files && !strcmp(arg, "--strict")) {
			strict = true;
		} else if (!only_files && !strcmp(arg, "--svg")) {
			if (i + 1 == argc) {
				fprintf(stderr,
					"gpuvm-replay: --svg needs a file\n");
				usage(stderr, false);
				return REPLAY_USAGE;
			}
			svg_path = argv[++i];
		} else if (!only_files && !strcmp(arg, "--demo")) {
			demo = true;
		} else if (!only_files &&
			   (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
			usage(stdout, true);
			return 0;
		} else if (!only_files && !strcmp(arg, "--version")) {
			printf("gpuvm-replay (libgpuvm) %s, trace format 2\n"
			       "kernel baseline: %s\n",
			       GPUVM_VERSION_STRING, GPUVM_KERNEL_BASELINE);
			return 0;
		} else if (!only_files && !strcmp(arg, "--")) {
			only_files = true;
		} else if (!only_files && arg[0] == '-' && arg[1]) {
			fprintf(stderr, "gpuvm-replay: unknown option '%s'\n",
				arg);
			usage(stderr, false);
			return REPLAY_USAGE;
		} else if (path) {
			fprintf(stderr, "gpuvm-replay: more than one trace\n");
			usage(stderr, false);
			return REPLAY_USAGE;
		} else {
			path = arg;
		}
	}
	if (demo && path) {
		fprintf(stderr, "gpuvm-replay: --demo takes no trace\n");
		usage(stderr, false);
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

	opts.strict = strict;
	if (svg_path)
		svg = svg_new(&opts.observer);
	ret = replay_run(in, name, stdout, stderr, &opts);
	if (in != stdin)
		fclose(in);
	if (svg) {
		FILE *sf = fopen(svg_path, "w");

		if (!sf || svg_write(svg, sf, name) || fclose(sf)) {
			fprintf(stderr, "gpuvm-replay: cannot write '%s': %s\n",
				svg_path, strerror(errno));
			svg_free(svg);
			return REPLAY_USAGE;
		}
		svg_free(svg);
	}
	if (stats)
		replay_print_stats(stderr, &st);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "gpuvm-replay: write error\n");
		return REPLAY_USAGE;
	}
	return ret;
}
