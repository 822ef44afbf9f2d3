// SPDX-License-Identifier: MIT
/*
 * bench_scale: do two threads working on two different VMs scale?
 *
 * Each of two workers owns a VM (immediate mode, its own resv object,
 * 2^32 bytes of 4 KiB pages), NR_OBJS VM-private GEM objects sharing that
 * resv, and a free-list pool of VA structures (so their allocation is not
 * what is measured). Nothing is shared between the two workers but the
 * library itself: the benchmark's own allocations (VM, objects, worker
 * state) are padded to whole cache lines.
 *
 * A worker's load is a deterministic random stream of requests, half map
 * and half unmap, of 1..16 pages starting anywhere in the VM, applied the
 * way bench_sm applies them (an immediate-mode driver): a map request
 * builds its ops with gpuvm_sm_map_ops_create(), obtains the object's
 * vm_bo (gpuvm_bo_create + gpuvm_bo_obtain_prealloc), applies the ops
 * (gpuva_map/remap/unmap with gpuva_link/unlink under the objects' gpuva
 * locks), drops the obtained reference and frees the ops; an unmap request
 * does the same with gpuvm_sm_unmap_ops_create() and no vm_bo. Requests
 * are generated inline (a few xorshift steps each, a small fraction of a
 * request's cost, the same for one thread and two).
 *
 * Before every measurement each worker rebuilds its VM, in its own thread
 * and untimed, from the same ~4096 prefill mappings, and restarts its
 * request stream from the same seed: worker 0 does exactly the same work
 * alone and beside worker 1. (Random unmaps mostly miss in a VM this
 * sparse, so the VM grows during a run: "mappings_after" is worker 0's
 * count at the end of its last run.) Per round:
 *
 *   one thread   the main thread runs R requests on VM A; t_one
 *   two threads  the main thread (VM A) and a second thread (VM B) wait
 *                for a start flag, then each runs R requests; t_two runs
 *                from the store of the flag to the later of the two ends
 *   two processes the same as two threads, but the second worker runs in
 *                a forked copy of the process (after one untimed run of
 *                its requests, so that copy-on-write faults are done):
 *                nothing of the library is shared then, only the machine
 *                (caches, memory, frequency). "two_processes_scaling" is
 *                its ratio, the ceiling two threads can reach on this
 *                machine with this load; not in sanitizer builds
 *
 * A thread is started and joined before anything is measured, so that
 * every measurement runs in a multi-threaded process, the forked one too
 * (glibc skips atomics in malloc and pthread mutexes while a process has
 * a single thread).
 *
 * The order alternates between rounds. The figures are medians over the
 * rounds; "speedup" is the throughput ratio (2R / t_two) / (R / t_one),
 * which is 2.0 for perfect scaling: ns_per_op is t_two / 2R (wall time
 * per request of the pair), p95_ns the slowest round's, and the baseline
 * "one-thread" is t_one / R.
 *
 * The same is done, in the same rounds, for two CPU-bound loops that
 * touch no memory, as the machine's own ceilings; each is also emitted
 * as its own case:
 *
 *   cpu-loop      one chain of xorshift steps into a per-thread sink:
 *                 latency-bound, it leaves most of a core idle, so it
 *                 scales on two hardware threads of one core as well as
 *                 on two cores ("cpu_loop_scaling": frequency, other load)
 *   cpu-ilp-loop  eight independent chains: throughput-bound, it scales
 *                 by about 2 only on two real cores, less when the two
 *                 CPUs are SMT siblings, which a virtual machine may not
 *                 show in its topology ("cpu_ilp_scaling")
 *
 * Neither says anything of caches and memory bandwidth, which the two
 * VMs share as well.
 *
 * Options (after the common ones of bench.h): --requests R,
 * --rounds N, --prefill N.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gpuvm/gpuvm.h>

#include "bench.h"
#include "bench_driver.h"

#define PAGE 4096ull
#define VM_SIZE (1ull << 32)
#define VM_PAGES (VM_SIZE / PAGE)
#define NR_OBJS 4
#define OBJ_PAGES (1ull << 18) /* nominal object size: 1 GiB */
#define MAX_PAGES 16
#define NR_WORKERS 2
#define MAX_ROUNDS 64
#define CACHELINE 64

/* ---- a worker: its VM, objects, pool and request stream ------------------ */

/* What a measurement runs: requests on the VMs or the CPU-bound loop. */
enum job { JOB_VM, JOB_CPU, JOB_CPU_ILP };

/* One thread's VM, objects, pool and measurement, on lines of its own. */
struct worker {
	struct gpuvm *vm;
	struct gpuvm_gem_object *objs[NR_OBJS];
	struct bench_pool pool;
	uint64_t seed; /* of the prefill and of the request stream */
	uint64_t rnd;
	size_t prefill;
	/* the measurement in progress */
	enum job job;
	unsigned long count; /* requests or loop iterations */
	uint64_t stream_seed;
	double end_ns;
	uint64_t sink;
	pthread_t thread;
} __attribute__((aligned(CACHELINE)));

static struct worker workers[NR_WORKERS];

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/*
 * The start line: the second thread (or process) says it is ready, then
 * spins on go; a second process also reports its end time here. Shared
 * memory, so that a forked process sees the same lines.
 */
struct start_line {
	int ready __attribute__((aligned(CACHELINE)));
	int go __attribute__((aligned(CACHELINE)));
	double child_end_ns __attribute__((aligned(CACHELINE)));
};

static struct start_line *start;

/* Zeroed whole cache lines: nothing of one worker's shares a line. */
static void *alloc_lines(size_t size)
{
	size_t bytes = (size + CACHELINE - 1) / CACHELINE * CACHELINE;
	void *p = aligned_alloc(CACHELINE, bytes);

	if (!p)
		bench_fail("out of memory");
	memset(p, 0, bytes);
	return p;
}

static void worker_init(struct worker *w, size_t prefill, uint64_t seed)
{
	struct gpuvm *v = alloc_lines(sizeof(*v));
	struct gpuvm_gem_object *r_obj = gpuvm_resv_object_alloc();
	unsigned int k;

	if (!r_obj || VM_PAGES / prefill < MAX_PAGES)
		bench_fail("cannot set up the VM");
	memset(w, 0, sizeof(*w));
	w->seed = seed;
	w->prefill = prefill;
	gpuvm_init(v, "bench_scale", GPUVM_IMMEDIATE_MODE, r_obj, 0, VM_SIZE, 0,
		   0, &bench_vm_ops);
	gpuvm_gem_object_put(r_obj);
	w->vm = v;
	for (k = 0; k < NR_OBJS; k++) {
		w->objs[k] = alloc_lines(sizeof(*w->objs[k]));
		gpuvm_gem_object_init_shared_resv(w->objs[k], &bench_obj_funcs,
						  OBJ_PAGES * PAGE,
						  gpuvm_resv(w->vm));
	}
}

/* The next request of the stream: 1..MAX_PAGES pages anywhere. */
static void next_request(uint64_t *rnd, struct bench_request *r, bool map)
{
	uint64_t pages = 1 + bench_rand(rnd) % MAX_PAGES;

	r->map = map;
	r->addr = (bench_rand(rnd) % (VM_PAGES - pages + 1)) * PAGE;
	r->range = pages * PAGE;
	r->obj = (unsigned int)(bench_rand(rnd) % NR_OBJS);
	r->offset = (bench_rand(rnd) % (OBJ_PAGES - MAX_PAGES)) * PAGE;
}

/*
 * Back to the initial state: empty the VM (checking it first), then map
 * one mapping at a random place in each of prefill equal slots, in order.
 */
static void reset(struct worker *w)
{
	uint64_t slot_pages = VM_PAGES / w->prefill;
	struct bench_request r;
	size_t i;

	bench_check_va_space(w->vm, &w->pool, VM_SIZE);
	bench_empty_vm(w->vm, w->objs, NR_OBJS, &w->pool);
	bench_pool_reorder(&w->pool);
	w->rnd = w->seed;
	for (i = 0; i < w->prefill; i++) {
		uint64_t pages = 1 + bench_rand(&w->rnd) % MAX_PAGES;
		uint64_t first = i * slot_pages +
				 bench_rand(&w->rnd) % (slot_pages - pages + 1);

		r.map = true;
		r.addr = first * PAGE;
		r.range = pages * PAGE;
		r.obj = (unsigned int)(bench_rand(&w->rnd) % NR_OBJS);
		r.offset =
			(bench_rand(&w->rnd) % (OBJ_PAGES - MAX_PAGES)) * PAGE;
		bench_do_request(w->vm, w->objs, &w->pool, &r);
	}
	bench_check_va_space(w->vm, &w->pool, VM_SIZE);
	if (w->pool.out != w->prefill)
		bench_fail("prefill mappings overlap");
}

static void worker_fini(struct worker *w)
{
	bench_check_va_space(w->vm, &w->pool, VM_SIZE);
	bench_empty_vm(w->vm, w->objs, NR_OBJS, &w->pool);
	bench_vm_fini(w->vm, w->objs, NR_OBJS, &w->pool);
}

/* ---- the two loads ------------------------------------------------------- */

static void run_vm(struct worker *w)
{
	uint64_t rnd = w->stream_seed;
	struct bench_request r;
	unsigned long i;

	for (i = 0; i < w->count; i++) {
		next_request(&rnd, &r, i & 1);
		bench_do_request(w->vm, w->objs, &w->pool, &r);
	}
}

static void run_cpu(struct worker *w)
{
	uint64_t x = w->stream_seed | 1, sink = 0;
	unsigned long i;

	for (i = 0; i < w->count; i++)
		sink += bench_rand(&x);
	w->sink = sink;
}

/* One xorshift step of @x into @sink, kept in a register of its own (the
 * empty asm), so that the compiler does not vectorise the chains. */
#define ILP_STEP(x, sink)                            \
	do {                                         \
		(x) ^= (x) >> 12;                    \
		(x) ^= (x) << 25;                    \
		(x) ^= (x) >> 27;                    \
		__asm__("" : "+r"(x));               \
		(sink) += (x)*0x2545f4914f6cdd1dull; \
	} while (0)

/* Eight independent chains: one iteration is eight steps. */
static void run_cpu_ilp(struct worker *w)
{
	uint64_t x0 = w->stream_seed | 1, x1 = x0 * 3, x2 = x0 * 5, x3 = x0 * 7,
		 x4 = x0 * 9, x5 = x0 * 11, x6 = x0 * 13, x7 = x0 * 15,
		 sink = 0;
	unsigned long i;

	for (i = 0; i < w->count; i++) {
		ILP_STEP(x0, sink);
		ILP_STEP(x1, sink);
		ILP_STEP(x2, sink);
		ILP_STEP(x3, sink);
		ILP_STEP(x4, sink);
		ILP_STEP(x5, sink);
		ILP_STEP(x6, sink);
		ILP_STEP(x7, sink);
	}
	w->sink = sink;
}

/* Untimed preparation, in the thread that will run the load. */
static void prepare(struct worker *w)
{
	if (w->job == JOB_VM)
		reset(w);
}

static void run(struct worker *w)
{
	if (w->job == JOB_VM)
		run_vm(w);
	else if (w->job == JOB_CPU)
		run_cpu(w);
	else
		run_cpu_ilp(w);
	w->end_ns = bench_now_ns();
}

static void *idle_thread(void *arg)
{
	return arg;
}

static void *second_thread(void *arg)
{
	struct worker *w = arg;

	prepare(w);
	__atomic_store_n(&start->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&start->go, __ATOMIC_ACQUIRE))
		cpu_relax();
	run(w);
	return NULL;
}

/* A thread started and joined: glibc then stays in its multi-threaded
 * mode (atomics in malloc and in pthread mutexes) for the process. */
static void go_multithreaded(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle_thread, NULL) ||
	    pthread_join(t, NULL))
		bench_fail("cannot create a thread");
}

/*
 * The second worker in a process of its own, a copy of this one: nothing
 * of the library's is shared with the first worker then, only the
 * machine. It first runs its requests once untimed, so that the pages
 * they write are its own copies before the timed run (copy-on-write
 * faults are not what is measured), then rebuilds its VM and waits.
 */
static pid_t start_second_process(void)
{
	struct worker *w = &workers[1];
	pid_t pid = fork();

	if (pid < 0)
		bench_fail("cannot fork");
	if (pid)
		return pid;
	go_multithreaded();
	prepare(w);
	run(w);
	prepare(w);
	__atomic_store_n(&start->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&start->go, __ATOMIC_ACQUIRE))
		cpu_relax();
	run(w);
	start->child_end_ns = w->end_ns;
	_exit(0);
}

/* How the second worker runs, when there is one. */
enum second { SECOND_NONE, SECOND_THREAD, SECOND_PROCESS };

/* Time @count units of @job on one worker or two; returns wall ns. */
static double measure(enum job job, enum second second, unsigned long count,
		      unsigned int round)
{
	unsigned int i, nr = second == SECOND_NONE ? 1 : 2;
	double t0, end;
	pid_t pid = 0;
	int status;

	for (i = 0; i < nr; i++) {
		struct worker *w = &workers[i];

		w->job = job;
		w->count = count;
		w->stream_seed =
			w->seed ^ (0x9e3779b97f4a7c15ull * (round + 1));
		w->end_ns = 0;
	}
	start->ready = 0;
	start->go = 0;
	start->child_end_ns = 0;
	if (second == SECOND_THREAD &&
	    pthread_create(&workers[1].thread, NULL, second_thread,
			   &workers[1]))
		bench_fail("cannot create a thread");
	if (second == SECOND_PROCESS)
		pid = start_second_process();
	prepare(&workers[0]);
	if (nr > 1)
		while (!__atomic_load_n(&start->ready, __ATOMIC_ACQUIRE))
			cpu_relax();

	t0 = bench_now_ns();
	__atomic_store_n(&start->go, 1, __ATOMIC_RELEASE);
	run(&workers[0]);
	end = workers[0].end_ns;
	if (second == SECOND_THREAD) {
		pthread_join(workers[1].thread, NULL);
		if (workers[1].end_ns > end)
			end = workers[1].end_ns;
	}
	if (second == SECOND_PROCESS) {
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			bench_fail("the second process failed");
		if (start->child_end_ns > end)
			end = start->child_end_ns;
	}
	return end - t0;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(v[0]), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct scaling {
	enum job job;
	bool processes; /* also measure two processes */
	unsigned long count; /* requests or iterations per thread */
	double one[MAX_ROUNDS], two[MAX_ROUNDS]; /* wall ns per round */
	double procs[MAX_ROUNDS]; /* the same with two processes */
	double t_one, t_two, two_max; /* medians; slowest two-thread round */
	double t_procs; /* median */
	double ratio; /* (2 count / t_two) / (count / t_one) */
	double procs_ratio; /* the same for two processes */
};

/*
 * One thread and two for each load in every round, all interleaved (the
 * order flips between rounds), so that the CPU loops' ratios are taken
 * under the same conditions as the VMs' one.
 */
static void measure_rounds(struct scaling *loads, unsigned int nr_loads,
			   unsigned int rounds)
{
	unsigned int r, l;

	for (r = 0; r < rounds; r++) {
		for (l = 0; l < nr_loads; l++) {
			struct scaling *s =
				&loads[r % 2 ? nr_loads - 1 - l : l];

			if (r % 2) {
				s->two[r] = measure(s->job, SECOND_THREAD,
						    s->count, r);
				s->one[r] = measure(s->job, SECOND_NONE,
						    s->count, r);
			} else {
				s->one[r] = measure(s->job, SECOND_NONE,
						    s->count, r);
				s->two[r] = measure(s->job, SECOND_THREAD,
						    s->count, r);
			}
			if (s->processes)
				s->procs[r] = measure(s->job, SECOND_PROCESS,
						      s->count, r);
		}
	}
	for (l = 0; l < nr_loads; l++) {
		struct scaling *s = &loads[l];

		s->t_one = median(s->one, rounds);
		s->t_two = median(s->two, rounds);
		s->two_max = s->two[rounds - 1]; /* sorted by median() */
		s->ratio = 2 * s->t_one / s->t_two;
		if (s->processes) {
			s->t_procs = median(s->procs, rounds);
			s->procs_ratio = 2 * s->t_one / s->t_procs;
		}
	}
}

static void emit(const char *name, const char *keys, const struct scaling *s,
		 unsigned long count)
{
	struct bench_stats two = {
		.iterations = count,
		.ns_per_op = s->t_two / (2.0 * (double)count),
		.p95_ns = s->two_max / (2.0 * (double)count),
	};
	struct bench_stats one = {
		.iterations = count,
		.ns_per_op = s->t_one / (double)count,
	};

	bench_emit("scale", name, keys, 2, &two, "one-thread", &one);
}

int main(int argc, char **argv)
{
	unsigned long nr_requests = 100000, cpu_iters = 50000000;
	unsigned long mappings_after;
	unsigned int rounds = 7, i;
	size_t prefill = 4096;
	struct scaling loads[3] = { { .job = JOB_VM },
				    { .job = JOB_CPU },
				    { .job = JOB_CPU_ILP } };
	struct scaling *vm = &loads[0], *cpu = &loads[1], *ilp = &loads[2];
	struct bench_opts opts;
	char keys[512];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int a;

	for (a = bench_init(argc, argv, &opts); a < argc; a++) {
		if (!strcmp(argv[a], "--requests") && a + 1 < argc) {
			nr_requests = strtoul(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--rounds") && a + 1 < argc) {
			rounds = (unsigned int)strtoul(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--prefill") && a + 1 < argc) {
			prefill = strtoull(argv[++a], NULL, 0);
		} else {
			fprintf(stderr,
				"usage: %s [--smoke] [--debug] [--seed N] "
				"[--requests R] [--rounds N] [--prefill N]\n",
				argv[0]);
			return 2;
		}
	}
	if (opts.smoke) {
		nr_requests = 2000;
		cpu_iters = 100000;
		rounds = 1;
		prefill = 256;
	}
	if (!nr_requests || !rounds || rounds > MAX_ROUNDS || !prefill ||
	    prefill > VM_PAGES / MAX_PAGES)
		bench_fail("--requests, --rounds or --prefill out of range");

	for (i = 0; i < NR_WORKERS; i++)
		worker_init(&workers[i], prefill,
			    opts.seed + 0x632be59bd9b4e019ull * (i + 1));

	start = mmap(NULL, sizeof(*start), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (start == MAP_FAILED)
		bench_fail("cannot map the start line");
	/* Multi-threaded from here on, one thread or two. */
	go_multithreaded();
	/* Sanitizer runtimes and fork() do not mix well; no figures there
	 * anyway. */
	vm->processes = !bench_sanitized();
	vm->count = nr_requests;
	cpu->count = cpu_iters;
	ilp->count = cpu_iters / 8;
	measure_rounds(loads, 3, rounds);
	mappings_after = workers[0].pool.out;

	if (bench_sanitized())
		snprintf(keys, sizeof(keys),
			 "\"requests_per_thread\": %lu, \"prefill\": %zu, "
			 "\"mappings_after\": %lu",
			 nr_requests, prefill, mappings_after);
	else
		snprintf(keys, sizeof(keys),
			 "\"requests_per_thread\": %lu, \"prefill\": %zu, "
			 "\"mappings_after\": %lu, \"rounds\": %u, "
			 "\"cpus\": %ld, \"cpu_loop_scaling\": %.2f, "
			 "\"cpu_ilp_scaling\": %.2f, "
			 "\"two_processes_scaling\": %.2f",
			 nr_requests, prefill, mappings_after, rounds, cpus,
			 cpu->ratio, ilp->ratio, vm->procs_ratio);
	emit("two-vms", keys, vm, nr_requests);
	for (i = 1; i < 3; i++) {
		const struct scaling *c = &loads[i];
		unsigned int chains = c->job == JOB_CPU ? 1 : 8;

		if (bench_sanitized())
			snprintf(keys, sizeof(keys),
				 "\"iterations_per_thread\": %lu, "
				 "\"chains\": %u",
				 c->count, chains);
		else
			snprintf(
				keys, sizeof(keys),
				"\"iterations_per_thread\": %lu, "
				"\"chains\": %u, \"rounds\": %u, \"cpus\": %ld",
				c->count, chains, rounds, cpus);
		emit(c->job == JOB_CPU ? "cpu-loop" : "cpu-ilp-loop", keys, c,
		     c->count);
	}

	for (i = 0; i < NR_WORKERS; i++)
		worker_fini(&workers[i]);
	return 0;
}
