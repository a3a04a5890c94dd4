/* Running images: the input's quantization, the layers in order (timed when profiling), one image per thread. */
#define _GNU_SOURCE /* clock_gettime under -std=c11 */
#include <string.h>
#include <time.h>

#include "engine.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* A depthwise's SE pool sums start at zero on every thread, also those that take none of its rows. */
static void zero_pool_sums(effnet_int8_engine *e, const layer_t *l) {
  if (!(l->flags & FLAG_POOL)) return;
  for (int32_t t = 0; t < e->threads; t++) memset(e->scratch[t].pool, 0, sizeof(int32_t) * (size_t)round_up(l->conv.in_c, MAX_DEPTHWISE_BLOCK));
}

static void run_layers(effnet_int8_engine *e, float *logits) {
  for (int32_t i = 0; i < e->layer_count; i++) {
    layer_t *l = &e->layers[i];
    const double start = e->profiling ? now_ns() : 0;
    task_t task = {e, l};
    switch (l->kind) {
      case KIND_CONV: pool_run(&e->pool, conv_task, &task, conv_split(e, l)); break;
      case KIND_DEPTHWISE:
        zero_pool_sums(e, l);
        pool_run(&e->pool, depthwise_task, &task, depthwise_split(e, l));
        break;
      case KIND_SE: run_se(e, &l->se); break;
      case KIND_HEAD: if (logits) run_head(e, &l->head, logits); break;
    }
    if (e->profiling) l->total_ns += now_ns() - start;
  }
}

typedef struct {
  effnet_int8_engine *e;
  const float *image; /* NCHW */
} input_task_t;

/* Three planes into RGB pixels; `restrict` and the fixed 3 let it vectorize. */
CLONES static void interleave_rgb(int8_t *restrict dst, const int8_t *restrict r, const int8_t *restrict g, const int8_t *restrict b, size_t pixels) {
  for (size_t p = 0; p < pixels; p++) {
    dst[3 * p] = r[p];
    dst[3 * p + 1] = g[p];
    dst[3 * p + 2] = b[p];
  }
}

/* The input's QuantizeLinear with the path's kernel, per plane, then interleaved into NHWC: pixels [first, last). */
static void quantize_input(const input_task_t *task, size_t first, size_t last) {
  effnet_int8_engine *e = task->e;
  const size_t plane = (size_t)e->height * e->width, channels = (size_t)e->channels;
  int8_t *nhwc = network_input(e);
  for (size_t c = 0; c < channels; c++) {
    e->kernels->quantize(task->image + c * plane + first, last - first, e->input_scale, e->staging + c * plane + first);
  }
  if (channels == 3) {
    interleave_rgb(nhwc + first * 3, e->staging + first, e->staging + plane + first, e->staging + 2 * plane + first, last - first);
    return;
  }
  for (size_t p = first; p < last; p++) {
    for (size_t c = 0; c < channels; c++) nhwc[p * channels + c] = e->staging[c * plane + p];
  }
}

/* Pixels claimed a few thousand at a time (each a whole cache line's worth of every plane). */
#define INPUT_PIXELS_PER_ITEM 4096

static void input_task(void *raw, pool_claim_t *claim) {
  do quantize_input(raw, (size_t)claim->begin, (size_t)claim->end);
  while (pool_next(claim));
}

typedef struct {
  effnet_int8_engine *e;
  const float *input; /* NCHW images */
  float *logits;
} images_task_t;

/* Whole images, each on the claiming thread's one-thread view, with no barrier between layers. */
static void images_task(void *raw, pool_claim_t *claim) {
  const images_task_t *task = raw;
  effnet_int8_engine *v = task->e->views[claim->thread];
  v->kernels = task->e->kernels; /* effnet_int8_set_isa may have changed them since the view was made */
  const size_t image = (size_t)v->channels * v->height * v->width;
  do {
    for (int32_t n = claim->begin; n < claim->end; n++) {
      input_task_t input = {v, task->input + (size_t)n * image};
      quantize_input(&input, 0, (size_t)v->height * v->width);
      run_layers(v, task->logits + (size_t)n * v->classes);
    }
  } while (pool_next(claim));
}

void run_images(effnet_int8_engine *e, const float *input, int32_t batch, float *logits) {
  const size_t image = (size_t)e->channels * e->height * e->width;
  /* Whole rounds of one image per thread; the rest (all of batch 1) layer by layer on all threads. */
  const int32_t parallel = e->threads > 1 ? batch / e->threads * e->threads : 0;
  if (parallel > 0) {
    images_task_t task = {e, input, logits};
    pool_run(&e->pool, images_task, &task, (pool_split_t){parallel, 1, 1});
  }
  /* Not split: the calling thread runs view 0 (this engine's arena and its own scratch), the workers stay asleep. */
  effnet_int8_engine *one = e->threads > 1 && !e->image_split ? e->views[0] : e;
  one->kernels = e->kernels;
  one->profiling = e->profiling;
  for (int32_t n = parallel; n < batch; n++) {
    input_task_t task = {one, input + (size_t)n * image};
    pool_run(&one->pool, input_task, &task, (pool_split_t){e->height * e->width, 64, INPUT_PIXELS_PER_ITEM});
    run_layers(one, logits + (size_t)n * e->classes);
  }
  if (one != e) one->profiling = 0; /* the views of whole rounds run on several threads at once: never timed */
}

void run_quantized_image(effnet_int8_engine *e, const int8_t *input, int8_t *output) {
  memcpy(network_input(e), input, (size_t)e->channels * e->height * e->width);
  run_layers(e, NULL);
  memcpy(output, tensor(e, e->last_slot, e->output_count), e->output_count);
}
