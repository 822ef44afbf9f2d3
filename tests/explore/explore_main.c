// SPDX-License-Identifier: MIT
/*
 * gpuvm-explore: runs an explored test (tests/explore/xt_*.c) under the
 * schedule explorer.
 *
 *   gpuvm-explore --list
 *   gpuvm-explore TEST [--bound N] [--max N] [--knob NAME]...
 *                 [--expect-fail] [--schedule S] [--pct RUNS --seed N
 *                 --depth D] [--verbose]
 *
 * --knob switches on a deliberately broken design (a scenario-harness or
 * library knob, see --list); with --expect-fail the run succeeds only if
 * a failure is found and its printed schedule, replayed in a fresh
 * process, fails again. Exit: 0 as expected, 1 not, 2 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xt_common.h"

struct knob {
	const char *name;
	const char *what;
	int scn; /* enum scn_knob, or -1 */
	int lib; /* enum gpuvm_debug_knob, or -1 */
};

static const struct knob knobs[] = {
	{ "drop-takes-gem-resv", "C-01: the vm_bo drop locks the GEM resv",
	  SCN_KNOB_DROP_TAKES_GEM_RESV, -1 },
	{ "sync-put-under-gpuva",
	  "C-02: synchronous final put under the gpuva mutex",
	  SCN_KNOB_SYNC_PUT_UNDER_GPUVA, -1 },
	{ "extobj-in-map", "C-06: extobj registration in the map step",
	  SCN_KNOB_EXTOBJ_IN_MAP, -1 },
	{ "extobj-only-creator",
	  "C-07: only the creating obtain adds to extobj",
	  SCN_KNOB_EXTOBJ_ONLY_CREATOR, -1 },
	{ "init-after-create", "C-09: data constructed after the vm_bo exists",
	  SCN_KNOB_INIT_AFTER_CREATE, -1 },
	{ "free-with-c-size", "C-10: free hook uses the C struct size",
	  SCN_KNOB_FREE_WITH_C_SIZE, -1 },
	{ "no-map-req-checks", "C-13/C-14: sm_map takes any vm_bo",
	  SCN_KNOB_NO_MAP_REQ_CHECKS, -1 },
	{ "no-from-raw-checks", "C-12: from_raw skips its checks",
	  SCN_KNOB_NO_FROM_RAW_CHECKS, -1 },
	{ "no-obtain-assert", "C-17: obtain does not check the VM resv is free",
	  SCN_KNOB_NO_OBTAIN_ASSERT, -1 },
	{ "teardown-no-drain", "C-19: file close without deferred cleanup",
	  SCN_KNOB_TEARDOWN_NO_DRAIN, -1 },
	{ "vm-no-device-ref", "C-21: the VM takes no device reference",
	  SCN_KNOB_VM_NO_DEVICE_REF, -1 },
	{ "defer-publish-locked",
	  "library: zombie pushed before the gpuva unlock", -1,
	  GPUVM_KNOB_DEFER_PUBLISH_LOCKED },
	{ "obtain-free-locked",
	  "library: duplicate freed under the gpuva mutex", -1,
	  GPUVM_KNOB_OBTAIN_FREE_LOCKED },
	{ "shmem-release-first",
	  "library: shmem release before the SG resource", -1,
	  GPUVM_KNOB_SHMEM_RELEASE_FIRST },
	{ "devres-old-drop", "SH-C-08: the old Devres drop that does not wait",
	  -1, -1 },
};

#define NR_KNOBS (sizeof(knobs) / sizeof(knobs[0]))
static bool knob_on[NR_KNOBS];

bool xt_knob(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++)
		if (!strcmp(knobs[i].name, name))
			return knob_on[i];
	fprintf(stderr, "gpuvm-explore: unknown knob '%s' asked for\n", name);
	exit(2);
}

static void apply_knobs(void)
{
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++) {
		if (knobs[i].scn >= 0)
			scn_set_knob((enum scn_knob)knobs[i].scn, knob_on[i]);
		if (knobs[i].lib >= 0)
			gpuvm_debug_set_knob(
				(enum gpuvm_debug_knob)knobs[i].lib,
				knob_on[i]);
	}
}

static struct scn_live base;

void xt_begin(void)
{
	apply_knobs(); /* the scenario harness turns its knobs off at times */
	scn_live(&base);
}

void xt_end(void)
{
	struct scn_live now;

	gpuvm_alloc_drain();
	scn_live(&now);
	if (now.vms != base.vms || now.gems != base.gems ||
	    now.vm_bos != base.vm_bos || now.vas != base.vas ||
	    now.devs != base.devs)
		xp_fail("leaked: %ld VM, %ld GEM, %ld vm_bo, %ld VA, %ld device",
			now.vms - base.vms, now.gems - base.gems,
			now.vm_bos - base.vm_bos, now.vas - base.vas,
			now.devs - base.devs);
	scn_release_graves();
}

struct scn_vm *xt_vm_new(void)
{
	return scn_vm_new(&scn_reference_driver, NULL, NULL, 0, 1ull << 32, 0,
			  0, 0);
}

static const struct xp_test *find_test(const char *name)
{
	const struct xp_test **t;

	for (t = xt_tests; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: gpuvm-explore --list | TEST [--bound N] [--max N] "
		"[--knob NAME]... [--expect-fail] [--schedule S] "
		"[--pct RUNS [--seed N] [--depth D]] [--verbose]\n");
	return 2;
}

/* Replay @schedule in a fresh process; true when it failed again. */
static bool replay_fails(char **argv, const char *test, const char *schedule)
{
	char *args[2 * NR_KNOBS + 8];
	unsigned int i, n = 0;
	int status;
	pid_t pid;

	args[n++] = argv[0];
	args[n++] = (char *)test;
	for (i = 0; i < NR_KNOBS; i++) {
		if (knob_on[i]) {
			args[n++] = "--knob";
			args[n++] = (char *)knobs[i].name;
		}
	}
	args[n++] = "--schedule";
	args[n++] = (char *)schedule;
	args[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		/* Called from a crash handler, the crash signal is blocked. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv("/proc/self/exe", args);
		_exit(3);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return false;
	return (WIFEXITED(status) && WEXITSTATUS(status) == 1) ||
	       WIFSIGNALED(status);
}

static char **saved_argv;
static const char *saved_test;
static bool saved_expect_fail;

/* A crash is the failure an --expect-fail run looks for: check its replay
 * (in a fresh process) and end with the verdict. */
static void on_crash(const char *schedule)
{
	if (!saved_expect_fail)
		_exit(1);
	if (replay_fails(saved_argv, saved_test, schedule)) {
		printf("%s: found (a crash), and the replay of \"%s\" fails "
		       "again\n",
		       saved_test, schedule);
		fflush(NULL);
		_exit(0);
	}
	printf("%s: replaying \"%s\" did NOT fail again\n", saved_test,
	       schedule);
	fflush(NULL);
	_exit(1);
}

int main(int argc, char **argv)
{
	struct xp_options o = { .bound = 2, .pct_depth = 3, .seed = 1 };
	const struct xp_test *t = NULL;
	bool expect_fail = false;
	struct xp_result r;
	unsigned int i;
	int a, ret;

	for (a = 1; a < argc; a++) {
		const char *arg = argv[a];
		const char *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(arg, "--list")) {
			const struct xp_test **tt;

			for (tt = xt_tests; *tt; tt++)
				printf("%-34s %u threads  %s\n", (*tt)->name,
				       (*tt)->nr_threads, (*tt)->doc);
			printf("\nknobs:\n");
			for (i = 0; i < NR_KNOBS; i++)
				printf("  %-22s %s\n", knobs[i].name,
				       knobs[i].what);
			return 0;
		} else if (!strcmp(arg, "--expect-fail")) {
			expect_fail = true;
		} else if (!strcmp(arg, "--verbose")) {
			o.verbose = true;
		} else if (val && !strcmp(arg, "--bound")) {
			o.bound = (unsigned int)strtoul(val, NULL, 0);
			a++;
		} else if (val && !strcmp(arg, "--max")) {
			o.max_schedules = strtoul(val, NULL, 0);
			a++;
		} else if (val && !strcmp(arg, "--schedule")) {
			o.replay = val;
			a++;
		} else if (val && !strcmp(arg, "--pct")) {
			o.pct_runs = strtoul(val, NULL, 0);
			a++;
		} else if (val && !strcmp(arg, "--seed")) {
			o.seed = strtoul(val, NULL, 0);
			a++;
		} else if (val && !strcmp(arg, "--depth")) {
			o.pct_depth = (unsigned int)strtoul(val, NULL, 0);
			a++;
		} else if (val && !strcmp(arg, "--knob")) {
			for (i = 0; i < NR_KNOBS; i++)
				if (!strcmp(knobs[i].name, val))
					break;
			if (i == NR_KNOBS) {
				fprintf(stderr, "unknown knob '%s'\n", val);
				return 2;
			}
			knob_on[i] = true;
			a++;
		} else if (arg[0] != '-' && !t) {
			t = find_test(arg);
			if (!t) {
				fprintf(stderr, "unknown test '%s'\n", arg);
				return 2;
			}
		} else {
			return usage();
		}
	}
	if (!t)
		return usage();

	saved_argv = argv;
	saved_test = t->name;
	saved_expect_fail = expect_fail && !o.replay;
	xp_on_crash(on_crash);
	ret = xp_explore(t, &o, &r);
	xp_print(t, &r, stdout);
	if (o.replay) {
		fflush(NULL);
		_exit(ret); /* a deadlocked replay leaves threads stuck */
	}
	if (!expect_fail) {
		fflush(NULL);
		_exit(ret);
	}
	if (!r.failed) {
		printf("%s: the broken design was NOT found\n", t->name);
		fflush(NULL);
		_exit(1);
	}
	if (!replay_fails(argv, t->name, r.schedule)) {
		printf("%s: replaying \"%s\" did NOT fail again\n", t->name,
		       r.schedule);
		fflush(NULL);
		_exit(1);
	}
	printf("%s: found, and the replay of \"%s\" fails again\n", t->name,
	       r.schedule);
	fflush(NULL);
	_exit(0);
}
