// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "warn_recorder.h"

struct recorded_warning {
	char rule[64];
	char msg[WARN_RECORDER_MSG_LEN];
};

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static struct recorded_warning recorded[WARN_RECORDER_MAX];
static unsigned int nr_recorded, nr_dropped;

static void record_warning(const char *rule, const char *msg, void *data)
{
	(void)data;
	pthread_mutex_lock(&record_lock);
	if (nr_recorded < WARN_RECORDER_MAX) {
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

void warn_recorder_install(void)
{
	gpuvm_warn_set_handler(record_warning, NULL);
}

void warn_recorder_clear(void)
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

unsigned int warn_recorder_count(const char *rule)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&record_lock);
	for (i = 0; i < nr_recorded; i++)
		n += rule_matches(&recorded[i], rule);
	pthread_mutex_unlock(&record_lock);
	return n;
}

unsigned int warn_recorder_take(const char *rule)
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

const char *warn_recorder_last(const char *rule)
{
	static char msg[WARN_RECORDER_MSG_LEN];
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

unsigned int warn_recorder_drain(void (*fn)(const char *rule, const char *msg,
					    void *arg),
				 void *arg, unsigned int *dropped)
{
	unsigned int i, n;

	pthread_mutex_lock(&record_lock);
	for (i = 0; i < nr_recorded; i++)
		fn(recorded[i].rule, recorded[i].msg, arg);
	n = nr_recorded;
	*dropped = nr_dropped;
	nr_recorded = 0;
	nr_dropped = 0;
	pthread_mutex_unlock(&record_lock);
	return n;
}
