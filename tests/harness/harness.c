// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <gpuvm/testing.h>
#include "harness.h"
#include "warn_recorder.h"

static long live_at_setup;

void harness_record_warnings(void)
{
	warn_recorder_install();
}

void harness_clear_warnings(void)
{
	warn_recorder_clear();
}

unsigned int harness_warnings(const char *rule)
{
	return warn_recorder_count(rule);
}

unsigned int harness_take_warnings(const char *rule)
{
	return warn_recorder_take(rule);
}

const char *harness_last_warning(const char *rule)
{
	return warn_recorder_last(rule);
}

int harness_setup(void **state)
{
	/* Each test starts with no learned lock order or class state, so a
	 * deliberate misuse in one test cannot trip a rule in the next. */
	gpuvm_lockdep_reset();
	gpuvm_alloc_fail_nth(0);
	harness_record_warnings();
	harness_clear_warnings();
	live_at_setup = gpuvm_alloc_live();
	return 0;
}

static void print_unexpected(const char *rule, const char *msg, void *arg)
{
	fprintf(stderr, "unexpected warning [%s] %s\n", rule, msg);
}

int harness_teardown(void **state)
{
	unsigned int dropped, held = gpuvm_lock_held_count();
	long leaked = gpuvm_alloc_live() - live_at_setup;
	int bad;

	gpuvm_alloc_fail_nth(0);
	bad = warn_recorder_drain(print_unexpected, NULL, &dropped) || dropped;

	if (leaked)
		fprintf(stderr, "leak: %ld allocation(s) not freed\n", leaked);
	if (held)
		fprintf(stderr, "%u lock(s) still held at teardown\n", held);
	return (bad || leaked || held) ? -1 : 0;
}

void harness_apply_filter(int argc, char **argv)
{
	if (getenv("CMOCKA_MESSAGE_OUTPUT") == NULL)
		cmocka_set_message_output(CM_OUTPUT_STDOUT);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
}

struct thread_arg {
	void (*fn)(unsigned int i, void *arg);
	void *arg;
	unsigned int index;
};

static void *thread_main(void *p)
{
	struct thread_arg *ta = p;

	ta->fn(ta->index, ta->arg);
	return NULL;
}

void harness_run_threads(unsigned int n, void (*fn)(unsigned int i, void *arg),
			 void *arg)
{
	pthread_t *tids = calloc(n, sizeof(*tids));
	struct thread_arg *args = calloc(n, sizeof(*args));
	unsigned int i;

	assert_non_null(tids);
	assert_non_null(args);
	for (i = 0; i < n; i++) {
		args[i] = (struct thread_arg){ fn, arg, i };
		assert_int_equal(
			pthread_create(&tids[i], NULL, thread_main, &args[i]),
			0);
	}
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	free(args);
}
