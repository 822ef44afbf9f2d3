/* SPDX-License-Identifier: MIT */
/*
 * The warning recorder of the test harnesses: a libgpuvm warn handler that
 * keeps every warning (rule and message) in a bounded table, so a test can
 * assert which rules fired and fail on the ones it did not expect.
 *
 * Used by the CMocka fixture (harness.h) and by the driver-facing scenario
 * harness (gpuvm_scenario.h), so it needs only the public libgpuvm API and
 * no test framework. Every function may be called from any thread.
 */
#ifndef GPUVM_TEST_WARN_RECORDER_H
#define GPUVM_TEST_WARN_RECORDER_H

#include <gpuvm/gpuvm.h>

/* Warnings beyond this many are only counted as dropped. */
#define WARN_RECORDER_MAX 256
#define WARN_RECORDER_MSG_LEN 512

/* Install the recording handler (gpuvm_warn_set_handler()). */
void warn_recorder_install(void);

/* Forget every recorded warning and the dropped count. */
void warn_recorder_clear(void);

/* Warnings recorded and not yet taken whose rule is @rule (NULL: any). */
unsigned int warn_recorder_count(const char *rule);

/* Like warn_recorder_count(), and forget them. */
unsigned int warn_recorder_take(const char *rule);

/*
 * Message of the newest recorded warning with @rule (NULL: any), or "" if
 * none. The string is overwritten by the next call.
 */
const char *warn_recorder_last(const char *rule);

/*
 * warn_recorder_drain() - report what is left and forget it
 * @fn: called for each recorded warning, oldest first
 * @dropped: set to how many warnings did not fit in the table
 *
 * One step under the recorder's lock, so a warning that arrives meanwhile
 * is neither lost nor reported twice; @fn must not warn itself.
 * Return: the number of recorded warnings passed to @fn.
 */
unsigned int warn_recorder_drain(void (*fn)(const char *rule, const char *msg,
					    void *arg),
				 void *arg, unsigned int *dropped);

#endif /* GPUVM_TEST_WARN_RECORDER_H */
