/* The thread pool (pool.h). */
#define _GNU_SOURCE /* clock_gettime under -std=c11 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

/*
 * How long an idle thread spins before it sleeps. Long enough to bridge the gaps between layers on one image (the SE
 * vector math, the head) so workers stay awake through a run; short enough that a thread with nothing to do gives its
 * core back within a scheduler tick's fraction when another process wants it.
 */
#define SPIN_NS 50000

typedef struct {
  pool_t *pool;
  int32_t index;
} worker_arg_t;

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until *value differs from `unlike` (or stop is set) or SPIN_NS pass; the clock is read every 16 pauses. */
static void spin_while_equal(pool_t *pool, atomic_uint_fast64_t *value, uint_fast64_t unlike) {
  const int64_t deadline = now_ns() + SPIN_NS;
  for (int spins = 1; atomic_load(value) == unlike && !atomic_load(&pool->stop); spins++) {
    cpu_relax();
    if (spins % 16 == 0 && now_ns() > deadline) return;
  }
}

/* The units of item `item` of run `share` (see share_start). */
static void item_units(const pool_t *pool, pool_claim_t *claim) {
  const pool_split_t *split = &pool->split;
  const int32_t first = share_start(split->units, claim->share, pool->count, split->align);
  const int32_t last = share_start(split->units, claim->share + 1, pool->count, split->align);
  claim->begin = first + claim->item * split->per_item;
  claim->end = claim->begin + split->per_item < last ? claim->begin + split->per_item : last;
}

/* Claims the next item of the claim's run, else of the runs after it in turn: 1, or 0 when every run is exhausted. */
static int claim_item(pool_claim_t *claim) {
  pool_t *pool = claim->pool;
  for (int32_t k = 0; k < pool->count; k++) {
    const int32_t share = (claim->share + k) % pool->count;
    atomic_uint_fast64_t *word = &pool->runs[share].word;
    uint_fast64_t seen = atomic_load_explicit(word, memory_order_relaxed);
    if ((uint32_t)seen >= (uint32_t)(seen >> 32)) continue;
    /* One word holds both numbers, so a claim never mixes this job's count with another's. */
    seen = atomic_fetch_add_explicit(word, 1, memory_order_acquire);
    if ((uint32_t)seen >= (uint32_t)(seen >> 32)) continue;
    claim->share = share;
    claim->item = (int32_t)(uint32_t)seen;
    item_units(pool, claim);
    return 1;
  }
  return 0;
}

/*
 * Claims the next item before counting the finished one: while this thread's item is still counted the job cannot
 * end, so the caller cannot publish the next job's runs and this loop (the old job's fn and arg) never claims from them.
 */
int pool_next(pool_claim_t *claim) {
  pool_t *pool = claim->pool;
  const int more = claim_item(claim);
  if (atomic_fetch_sub(&pool->remaining, 1) == 1 && atomic_load(&pool->caller_sleeping)) {
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_signal(&pool->done);
    pthread_mutex_unlock(&pool->mutex);
  }
  return more;
}

/* Thread `thread`'s part of the current job: whatever it can claim, starting with its own run. */
static void take_part(pool_t *pool, int32_t thread) {
  pool_claim_t claim = {pool, thread, thread, 0, 0, 0};
  if (claim_item(&claim)) pool->fn(pool->arg, &claim);
}

/* Waits for a job newer than *seen (1), or for stop (0). */
static int wait_for_job(pool_t *pool, uint_fast64_t *seen) {
  spin_while_equal(pool, &pool->generation, *seen);
  if (atomic_load(&pool->generation) == *seen && !atomic_load(&pool->stop)) {
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->sleepers, 1);
    while (atomic_load(&pool->generation) == *seen && !atomic_load(&pool->stop)) pthread_cond_wait(&pool->start, &pool->mutex);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->mutex);
  }
  if (atomic_load(&pool->stop)) return 0;
  *seen = atomic_load(&pool->generation);
  return 1;
}

static void *worker_main(void *raw) {
  worker_arg_t self = *(worker_arg_t *)raw;
  free(raw);
  uint_fast64_t seen = 0;
  while (wait_for_job(self.pool, &seen)) take_part(self.pool, self.index);
  return NULL;
}

/* Waits until the items other threads still run are finished: a short spin, then sleep. */
static void wait_until_finished(pool_t *pool) {
  const int64_t deadline = now_ns() + SPIN_NS;
  for (int spins = 1; atomic_load(&pool->remaining) > 0; spins++) {
    cpu_relax();
    if (spins % 16 == 0 && now_ns() > deadline) break;
  }
  if (atomic_load(&pool->remaining) == 0) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store(&pool->caller_sleeping, 1);
  while (atomic_load(&pool->remaining) > 0) pthread_cond_wait(&pool->done, &pool->mutex);
  atomic_store(&pool->caller_sleeping, 0);
  pthread_mutex_unlock(&pool->mutex);
}

void pool_run(pool_t *pool, task_fn fn, void *arg, pool_split_t split) {
  if (split.units <= 0) return;
  if (split.per_item < 1) split.per_item = 1;
  pool->fn = fn;
  pool->arg = arg;
  pool->split = split;
  int32_t items[MAX_THREADS], total = 0;
  for (int32_t share = 0; share < pool->count; share++) {
    const int32_t run = share_start(split.units, share + 1, pool->count, split.align) - share_start(split.units, share, pool->count, split.align);
    items[share] = (run + split.per_item - 1) / split.per_item;
    total += items[share];
  }
  atomic_store(&pool->remaining, total);
  /* Released with each counter: a thread whose claim reads one sees this job and its remaining count. */
  for (int32_t share = 0; share < pool->count; share++) {
    atomic_store_explicit(&pool->runs[share].word, (uint_fast64_t)(uint32_t)items[share] << 32, memory_order_release);
  }
  if (pool->count > 1) {
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_broadcast(&pool->start);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
  take_part(pool, 0);
  wait_until_finished(pool);
}

void pool_stop(pool_t *pool) {
  if (pool->count <= 1) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store(&pool->stop, 1);
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->mutex);
  for (int32_t i = 1; i < pool->count; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->mutex);
  pthread_cond_destroy(&pool->start);
  pthread_cond_destroy(&pool->done);
  pool->count = 1;
}

int pool_start(pool_t *pool, int32_t count) {
  memset(pool, 0, sizeof *pool);
  pool->count = 1;
  if (count <= 1) return 0;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->start, NULL);
  pthread_cond_init(&pool->done, NULL);
  for (int32_t i = 1; i < count; i++) {
    worker_arg_t *arg = malloc(sizeof *arg);
    if (!arg) break;
    arg->pool = pool;
    arg->index = i;
    if (pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0) {
      free(arg);
      break;
    }
    pool->count = i + 1;
  }
  if (pool->count != count) {
    pool_stop(pool);
    return -1;
  }
  return 0;
}
