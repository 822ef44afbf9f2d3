// SPDX-License-Identifier: MIT
/*
 * gpuvm_warn(): handler, counter, and the default handler's GPUVM_WARN
 * modes (run in a child process, whose stderr is captured).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

struct seen {
	int calls;
	char rule[64];
	char msg[256];
};

static void remember(const char *rule, const char *msg, void *data)
{
	struct seen *s = data;

	s->calls++;
	snprintf(s->rule, sizeof(s->rule), "%s", rule);
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void test_warn_handler_gets_rule_and_message(void **state)
{
	struct seen s = { 0 };
	unsigned long before = gpuvm_warn_count();

	gpuvm_warn_set_handler(remember, &s);
	gpuvm_warn("my-rule", "%s: value %d", "my_func", 42);
	harness_record_warnings();

	assert_int_equal(s.calls, 1);
	assert_string_equal(s.rule, "my-rule");
	assert_string_equal(s.msg, "my_func: value 42");
	assert_int_equal(gpuvm_warn_count(), before + 1);
}

static void test_warn_counter_counts_every_warning(void **state)
{
	unsigned long before = gpuvm_warn_count();
	int i;

	for (i = 0; i < 5; i++)
		gpuvm_warn("count-rule", "n=%d", i);
	assert_int_equal(gpuvm_warn_count(), before + 5);
	assert_int_equal(harness_take_warnings("count-rule"), 5);
}

/* Run one warning with the default handler under GPUVM_WARN=@mode in a
 * child; return its wait status and what it wrote to stderr. */
static int warn_in_child(const char *mode, char *out, size_t len)
{
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		if (mode)
			setenv("GPUVM_WARN", mode, 1);
		else
			unsetenv("GPUVM_WARN");
		gpuvm_debug_read_environment__();
		gpuvm_warn_set_handler(NULL, NULL);
		gpuvm_warn("child-rule", "child_func: broken");
		_exit(7);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_warn_default_prints(void **state)
{
	char out[512];
	int status = warn_in_child(NULL, out, sizeof(out));

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_non_null(strstr(out, "[child-rule]"));
	assert_non_null(strstr(out, "child_func: broken"));
}

static void test_warn_silent(void **state)
{
	char out[512];
	int status = warn_in_child("silent", out, sizeof(out));

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_string_equal(out, "");
}

static void test_warn_abort(void **state)
{
	char out[512];
	int status = warn_in_child("abort", out, sizeof(out));

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(out, "[child-rule]"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		harness_test(test_warn_handler_gets_rule_and_message),
		harness_test(test_warn_counter_counts_every_warning),
		harness_test(test_warn_default_prints),
		harness_test(test_warn_silent),
		harness_test(test_warn_abort),
	};

	return harness_run("gpuvm/warn", tests, argc, argv);
}
