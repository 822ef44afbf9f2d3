// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpuvm/testing.h>
#include "harness.h"

#define MAX_RECORDED 256

struct recorded_warning {
	char rule[64];
	char msg[512];
};

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recorded_warning recorded[MAX_RECORDED];
static unsigned int nr_recorded, nr_dropped;
static long live_at_setup;

static void record_warning(const char *rule, const char *msg, void *data)
{
	pthread_mutex_lock(&record_lock);
	if (nr_recorded < MAX_RECORDED) {
		snprintf(recorded[nr_recorded].rule, sizeof(recorded[0].rule),
			 "%s", rule);
		snprintf(recorded[nr_recorded].msg, sizeof(recorded[0].msg),
			 "%s", msg);
		nr_recorded++;
	} else {
		nr_dropped++;
	}
	pthread_mutex_unlock(&record_lock);
}

void harness_record_warnings(void)
{
	gpuvm_warn_set_handler(record_warning, NULL);
}

void harness_clear_warnings(void)
{
	pthread_mutex_lock(&record_lock);
	nr_recorded = 0;
	nr_dropped = 0;
	pthread_mutex_unlock(&record_lock);
}

static bool rule_matches(const struct recorded_warning *w, const char *rule)
{
	return !rule || !strcmp(w->rule, rule);
}

unsigned int harness_warnings(const char *rule)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&record_lock);
	for (i = 0; i < nr_recorded; i++)
		n += rule_matches(&recorded[i], rule);
	pthread_mutex_unlock(&record_lock);
	return n;
}

unsigned int harness_take_warnings(const char *rule)
{
	unsigned int i, kept = 0, n = 0;

	pthread_mutex_lock(&record_lock);
	for (i = 0; i < nr_recorded; i++) {
		if (rule_matches(&recorded[i], rule))
			n++;
		else
			recorded[kept++] = recorded[i];
	}
	nr_recorded = kept;
	pthread_mutex_unlock(&record_lock);
	return n;
}

const char *harness_last_warning(const char *rule)
{
	static char msg[512];
	unsigned int i;

	msg[0] = '\0';
	pthread_mutex_lock(&record_lock);
	for (i = nr_recorded; i-- > 0;) {
		if (rule_matches(&recorded[i], rule)) {
			memcpy(msg, recorded[i].msg, sizeof(msg));
			break;
		}
	}
	pthread_mutex_unlock(&record_lock);
	return msg;
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

int harness_teardown(void **state)
{
	unsigned int i, held = gpuvm_lock_held_count();
	long leaked = gpuvm_alloc_live() - live_at_setup;
	int bad = 0;

	gpuvm_alloc_fail_nth(0);
	pthread_mutex_lock(&record_lock);
	for (i = 0; i < nr_recorded; i++)
		fprintf(stderr, "unexpected warning [%s] %s\n",
			recorded[i].rule, recorded[i].msg);
	bad = nr_recorded || nr_dropped;
	nr_recorded = 0;
	nr_dropped = 0;
	pthread_mutex_unlock(&record_lock);

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
