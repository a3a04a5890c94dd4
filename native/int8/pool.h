/* The engine's thread pool: workers spin briefly between layers, then sleep. */
#ifndef EFFNET_INT8_POOL_H
#define EFFNET_INT8_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

typedef void (*task_fn)(void *arg, int32_t thread, int32_t threads);

typedef struct {
  pthread_t threads[MAX_THREADS];
  int32_t count; /* including the calling thread */
  pthread_mutex_t mutex;
  pthread_cond_t start, done;
  atomic_uint_fast64_t generation;
  atomic_int pending;
  atomic_int stop;
  task_fn fn;
  void *arg;
} pool_t;

/* Starts count - 1 workers (the calling thread is the first); -1, with none left running, if one cannot start. */
int pool_start(pool_t *pool, int32_t count);
/* fn(arg, thread, count) on every thread of the pool, the caller as thread 0; returns when all have finished. */
void pool_run(pool_t *pool, task_fn fn, void *arg);
void pool_stop(pool_t *pool);

#endif
