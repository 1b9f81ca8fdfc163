/* Checkpoints: every DEIATRACE_CHECKPOINT_S seconds the next SIGPROF that finds the time due has
 * dt_lifecycle publish a DT_FLAG_CHECKPOINT trace over the previous one (the writer is async-signal-
 * safe). No thread of our own: an extra thread changes hosts (setxid broadcasts abort when a
 * capset'd main thread and ours disagree, unshare(CLONE_NEWUSER) needs one thread). Handler only. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dt_shim.h"

#define NS_PER_S 1000000000ull
/* The write runs on the interrupted thread's stack (a few PATH_MAX buffers, the encoder's frames):
 * a thread with less room left than this lets the next thread take the checkpoint. */
#define CHECKPOINT_MIN_STACK_BYTES (128u * 1024u)

DT_TLS __thread uintptr_t dt_thread_stack_floor;

/* Weak: the unit tests link the sampler (which calls us) without dt_lifecycle; they never start
 * checkpoints, and the shim always has it. */
#pragma weak dt_lifecycle_checkpoint_sigsafe

static uint64_t period_ns;
static _Atomic uint64_t next_due_ns;

int dt_checkpoint_start(uint32_t seconds) /* ctx: any; constructor, or a fork child */
{
	period_ns = (uint64_t)seconds * NS_PER_S;
	atomic_store_explicit(&next_due_ns, dt_now_ns() + period_ns, memory_order_relaxed);
	return 0;
}

void dt_checkpoint_tick_sigsafe(void) /* ctx: sigsafe; the SIGPROF handler, after its sample */
{
	if (!period_ns || !dt_lifecycle_checkpoint_sigsafe)
		return;
	uint64_t now_ns = dt_now_ns();
	uint64_t due_ns = atomic_load_explicit(&next_due_ns, memory_order_relaxed);
	if (now_ns < due_ns)
		return;
	/* The main thread's stack is the process's (RLIMIT_STACK, megabytes); another thread's room is
	 * known when our pthread_create started it. */
	uintptr_t here = (uintptr_t)&now_ns;
	if (syscall(SYS_gettid) != getpid() &&
	    (!dt_thread_stack_floor || here < dt_thread_stack_floor + CHECKPOINT_MIN_STACK_BYTES))
		return;
	/* One thread wins the slot; relaxed: the writer flag in dt_lifecycle orders the write itself. */
	if (!atomic_compare_exchange_strong_explicit(&next_due_ns, &due_ns, now_ns + period_ns,
						     memory_order_relaxed, memory_order_relaxed))
		return;
	dt_lifecycle_checkpoint_sigsafe();
}
