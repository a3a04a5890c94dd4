/* The thread pool (pool.h). */
#include <stdlib.h>
#include <string.h>

#include "pool.h"

typedef struct {
  pool_t *pool;
  int32_t index;
} worker_arg_t;

#define SPINS 200000

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *worker_main(void *raw) {
  worker_arg_t self = *(worker_arg_t *)raw;
  free(raw);
  pool_t *pool = self.pool;
  uint_fast64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop) && spins < SPINS) {
      cpu_relax();
      spins++;
    }
    if (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
      pthread_mutex_lock(&pool->mutex);
      while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) pthread_cond_wait(&pool->start, &pool->mutex);
      pthread_mutex_unlock(&pool->mutex);
    }
    if (atomic_load(&pool->stop)) return NULL;
    seen = atomic_load(&pool->generation);
    pool->fn(pool->arg, self.index, pool->count);
    if (atomic_fetch_sub(&pool->pending, 1) == 1) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
}

void pool_run(pool_t *pool, task_fn fn, void *arg) {
  if (pool->count <= 1) {
    fn(arg, 0, 1);
    return;
  }
  pool->fn = fn;
  pool->arg = arg;
  atomic_store(&pool->pending, pool->count - 1);
  pthread_mutex_lock(&pool->mutex);
  atomic_fetch_add(&pool->generation, 1);
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->mutex);
  fn(arg, 0, pool->count);
  int spins = 0;
  while (atomic_load(&pool->pending) > 0 && spins < SPINS) {
    cpu_relax();
    spins++;
  }
  pthread_mutex_lock(&pool->mutex);
  while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
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
