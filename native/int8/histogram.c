/*
 * Calibration's histogram binning (calibration/calibrate/histogram.ts, AbsHistogram.add), the part of calibrating
 * that is not ONNX Runtime: every activation value of every calibration image lands here. The arithmetic is the
 * TypeScript's, in double: bin = trunc(|(double)x| · inverse) where that is below `bins`, so both give the same counts.
 * Four sub-histograms take consecutive values, so a run of equal bins (the many zeros after a SiLU) does not wait on
 * one counter's previous increment.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "engine.h"

/* Sub-histogram counters are flushed into the caller's doubles at least this often, so a uint32 never overflows. */
#define FLUSH_VALUES ((size_t)1 << 30)

/* `spill` keeps the first `capacity` values that fall outside (as |x|), so the caller need not search for them. */
typedef struct {
  int64_t outside;
  float max;
  float *spill;
  size_t capacity;
} binned_t;

static inline void spill(binned_t *r, float v) {
  if ((size_t)r->outside < r->capacity) r->spill[r->outside] = v;
  r->outside++;
}

static void bin_scalar(binned_t *r, const float *values, size_t count, double inverse, uint32_t *sub, int32_t bins) {
  const double limit = (double)bins;
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    for (int32_t j = 0; j < 4; j++) {
      const float v = fabsf(values[i + j]);
      if (v > r->max) r->max = v; /* NaN never compares greater: it is spilled, where the caller finds it */
      const double scaled = (double)v * inverse;
      if (scaled < limit) sub[(size_t)j * bins + (int32_t)scaled]++;
      else spill(r, v);
    }
  }
  for (; i < count; i++) {
    const float v = fabsf(values[i]);
    if (v > r->max) r->max = v;
    const double scaled = (double)v * inverse;
    if (scaled < limit) sub[(int32_t)scaled]++;
    else spill(r, v);
  }
}

#if defined(__x86_64__)
/* Four values a step: |x| widened to double, scaled, compared and truncated in vectors; the increments stay scalar. */
__attribute__((target("avx2"))) static void bin_avx2(binned_t *r, const float *values, size_t count, double inverse,
                                                      uint32_t *sub, int32_t bins) {
  const __m256d scale = _mm256_set1_pd(inverse), limit = _mm256_set1_pd((double)bins);
  const __m128 magnitude = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
  __m128 max = _mm_setzero_ps();
  int32_t index[4];
  float lanes[4];
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m128 v = _mm_and_ps(_mm_loadu_ps(values + i), magnitude);
    max = _mm_max_ps(v, max); /* a NaN lane keeps the running max (the second operand), as the scalar compare does */
    const __m256d scaled = _mm256_mul_pd(_mm256_cvtps_pd(v), scale);
    const __m256d inside = _mm256_cmp_pd(scaled, limit, _CMP_LT_OQ);
    const int mask = _mm256_movemask_pd(inside);
    _mm_storeu_si128((__m128i *)index, _mm256_cvttpd_epi32(_mm256_and_pd(scaled, inside)));
    if (mask == 15) {
      sub[index[0]]++;
      sub[(size_t)bins + index[1]]++;
      sub[(size_t)2 * bins + index[2]]++;
      sub[(size_t)3 * bins + index[3]]++;
      continue;
    }
    _mm_storeu_ps(lanes, v);
    for (int32_t j = 0; j < 4; j++) {
      if (mask >> j & 1) sub[(size_t)j * bins + index[j]]++;
      else spill(r, lanes[j]);
    }
  }
  _mm_storeu_ps(lanes, max);
  for (int32_t j = 0; j < 4; j++)
    if (lanes[j] > r->max) r->max = lanes[j];
  bin_scalar(r, values + i, count - i, inverse, sub, bins);
}
#endif

typedef void (*bin_fn)(binned_t *, const float *, size_t, double, uint32_t *, int32_t);

static bin_fn binning(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return bin_avx2;
#endif
  return bin_scalar;
}

EXPORT int64_t effnet_int8_abs_histogram(const float *values, size_t count, double inverse, double *counts, int32_t bins,
                                         float *outside, size_t outside_capacity, float *max_abs) {
  if (max_abs) *max_abs = 0.0f;
  if (!values || !counts || !max_abs || (!outside && outside_capacity) || bins <= 0 || !(inverse > 0) || !isfinite(inverse))
    return -1;
  uint32_t *sub = calloc((size_t)4 * bins, sizeof(uint32_t));
  if (!sub) return -2;
  const bin_fn bin = binning();
  binned_t r = {0, 0.0f, outside, outside_capacity};
  for (size_t first = 0; first < count; first += FLUSH_VALUES) {
    const size_t n = count - first < FLUSH_VALUES ? count - first : FLUSH_VALUES;
    bin(&r, values + first, n, inverse, sub, bins);
    for (int32_t b = 0; b < bins; b++) {
      counts[b] += (double)sub[b] + (double)sub[(size_t)bins + b] + (double)sub[(size_t)2 * bins + b] +
                   (double)sub[(size_t)3 * bins + b];
      sub[b] = sub[(size_t)bins + b] = sub[(size_t)2 * bins + b] = sub[(size_t)3 * bins + b] = 0;
    }
  }
  free(sub);
  *max_abs = r.max;
  return r.outside;
}

/*
 * The background binning thread: a FIFO of jobs under one mutex, one worker started on first use and kept for the
 * process (a thread per job would cost more than small tensors take to bin).
 */
typedef struct {
  const float *values;
  size_t count;
  double inverse;
  double *counts;
  int32_t bins;
  float *outside;
  size_t outside_capacity;
  double *result;
} binning_job_t;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_work = PTHREAD_COND_INITIALIZER, queue_idle = PTHREAD_COND_INITIALIZER;
static binning_job_t *queue_jobs;
static size_t queue_head, queue_length, queue_capacity;
static int queue_busy, queue_started;

static void *binning_worker(void *unused) {
  (void)unused;
  pthread_mutex_lock(&queue_lock);
  for (;;) {
    while (queue_length == 0) pthread_cond_wait(&queue_work, &queue_lock);
    const binning_job_t job = queue_jobs[queue_head];
    queue_head = (queue_head + 1) % queue_capacity;
    queue_length--;
    queue_busy = 1;
    pthread_mutex_unlock(&queue_lock);
    float max = 0.0f;
    const int64_t outside = effnet_int8_abs_histogram(job.values, job.count, job.inverse, job.counts, job.bins,
                                                      job.outside, job.outside_capacity, &max);
    job.result[0] = (double)outside;
    job.result[1] = (double)max;
    pthread_mutex_lock(&queue_lock);
    queue_busy = 0;
    if (queue_length == 0) pthread_cond_broadcast(&queue_idle);
  }
  return NULL;
}

/* Room for one more job, the ring unrolled into a larger one when full; 0 when out of memory. Called locked. */
static int queue_reserve(void) {
  if (queue_length < queue_capacity) return 1;
  const size_t capacity = queue_capacity ? 2 * queue_capacity : 256;
  binning_job_t *jobs = malloc(capacity * sizeof *jobs);
  if (!jobs) return 0;
  for (size_t k = 0; k < queue_length; k++) jobs[k] = queue_jobs[(queue_head + k) % queue_capacity];
  free(queue_jobs);
  queue_jobs = jobs;
  queue_head = 0;
  queue_capacity = capacity;
  return 1;
}

EXPORT int32_t effnet_int8_abs_histogram_queue(const float *values, size_t count, double inverse, double *counts,
                                               int32_t bins, float *outside, size_t outside_capacity, double *result) {
  if (!result) return -1;
  pthread_mutex_lock(&queue_lock);
  if (!queue_started) {
    pthread_t worker;
    if (pthread_create(&worker, NULL, binning_worker, NULL) != 0) {
      pthread_mutex_unlock(&queue_lock);
      return -2;
    }
    pthread_detach(worker);
    queue_started = 1;
  }
  if (!queue_reserve()) {
    pthread_mutex_unlock(&queue_lock);
    return -2;
  }
  queue_jobs[(queue_head + queue_length) % queue_capacity] =
      (binning_job_t){values, count, inverse, counts, bins, outside, outside_capacity, result};
  queue_length++;
  pthread_cond_signal(&queue_work);
  pthread_mutex_unlock(&queue_lock);
  return 0;
}

EXPORT void effnet_int8_abs_histogram_drain(void) {
  pthread_mutex_lock(&queue_lock);
  while (queue_length > 0 || queue_busy) pthread_cond_wait(&queue_idle, &queue_lock);
  pthread_mutex_unlock(&queue_lock);
}
