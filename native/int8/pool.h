/*
 * The engine's thread pool. A job's work is units (pixels, rows, images) split into one contiguous run per thread,
 * each run in items of a few units. Threads claim items from a shared atomic counter per run: each starts on its own
 * run (the units it wrote in the layer before, in its cache) and then takes what is left of the others'. The job is
 * done when every item is, so a thread that wakes late, or is descheduled before it claims anything, holds up nobody:
 * it finds nothing left and goes back to waiting. Idle workers spin for a few microseconds, then sleep.
 */
#ifndef EFFNET_INT8_POOL_H
#define EFFNET_INT8_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

/* Where run `share` of `shares` starts in `items`, rounded to a multiple of `align` (the last run ends at items). */
static inline int32_t share_start(int32_t items, int32_t share, int32_t shares, int32_t align) {
  if (share >= shares) return items;
  const int32_t at = (int32_t)(((int64_t)items * share / shares + align / 2) / align * align);
  return at < items ? at : items;
}

/* How a job's units are divided: runs start at multiples of `align` units; a claim takes up to `per_item` units. */
typedef struct {
  int32_t units, align, per_item;
} pool_split_t;

typedef struct pool pool_t;

/* An item one thread has claimed: units [begin, end) of run `share`, run by thread `thread` (whose scratch it uses). */
typedef struct {
  pool_t *pool;
  int32_t thread, share, item, begin, end;
} pool_claim_t;

/* A job's work on one thread: runs the claimed item, then pool_next's, until pool_next returns 0. */
typedef void (*task_fn)(void *arg, pool_claim_t *claim);

/* One run's counter: the next item to claim (low 32 bits) and its item count (high 32), on a cache line of its own. */
typedef struct {
  atomic_uint_fast64_t word;
  char pad[64 - sizeof(atomic_uint_fast64_t)];
} pool_run_counter_t;

struct pool {
  pthread_t threads[MAX_THREADS];
  int32_t count; /* including the calling thread */
  pthread_mutex_t mutex;
  pthread_cond_t start, done;
  atomic_uint_fast64_t generation; /* bumped once per job, after its counters are set */
  atomic_int sleepers, caller_sleeping, stop;
  atomic_int remaining; /* items of the current job not finished yet */
  /* The current job: written before its counters are published and kept until every item is finished, so a thread
   * reads them only after it has claimed an item. */
  task_fn fn;
  void *arg;
  pool_split_t split;
  pool_run_counter_t runs[MAX_THREADS];
};

/* Starts count - 1 workers (the calling thread is the first); -1, with none left running, if one cannot start. */
int pool_start(pool_t *pool, int32_t count);
/* fn on every item of the split, the calling thread working too; returns when all items are finished. */
void pool_run(pool_t *pool, task_fn fn, void *arg, pool_split_t split);
/* Marks the claimed item finished and claims another: 1, or 0 when none is left (the task then returns). */
int pool_next(pool_claim_t *claim);
void pool_stop(pool_t *pool);

#endif
