/* The classifier head: the global average pool and the classifier, each split over the pool's threads. */
#include "engine.h"

typedef struct {
  effnet_int8_engine *e;
  const head_layer_t *h;
  float *logits;
} head_task_t;

/* The classifier (1000 × 1280 for ImageNet B0) split over the threads by class. */
CLONES static void classifier_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  const head_layer_t *h = task->h;
  const int32_t c_count = h->in_c;
  const int32_t first = share_start(h->classes, thread, threads, 1), last = share_start(h->classes, thread + 1, threads, 1);
  for (int32_t o = first; o < last; o++) {
    const int8_t *w = h->weights + (size_t)o * c_count;
    int32_t acc = 0;
    for (int32_t c = 0; c < c_count; c++) acc += task->e->pooled[c] * w[c];
    task->logits[o] = (float)acc * h->scale[o] + h->bias[o];
  }
}

/* The head's global average pool, channels split by thread (each channel summed in pixel order, as on one thread). */
CLONES static void head_pool_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const head_layer_t *h = task->h;
  const int8_t *in = tensor(e, h->in_slot, (size_t)h->in_h * h->in_w * h->in_c);
  const int32_t pixels = h->in_h * h->in_w, c_count = h->in_c, groups = (c_count + 15) / 16;
  const int32_t first = share_start(groups, thread, threads, 1) * 16, group_end = share_start(groups, thread + 1, threads, 1) * 16;
  const int32_t last = group_end < c_count ? group_end : c_count;
  double *sums = e->head_sums;
  for (int32_t c = first; c < last; c++) sums[c] = 0;
  /* With a table the pooled values are the activation's float outputs (the graph pools them unquantized). */
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *px = in + (size_t)p * c_count;
    if (h->table) {
      for (int32_t c = first; c < last; c++) sums[c] += h->table[(uint8_t)px[c]];
    } else {
      for (int32_t c = first; c < last; c++) sums[c] += px[c] * (double)h->in_scale;
    }
  }
  for (int32_t c = first; c < last; c++) e->pooled[c] = quantize_value((float)(sums[c] / pixels), h->pool_scale);
}

void run_head(effnet_int8_engine *e, const head_layer_t *h, float *logits) {
  head_task_t task = {e, h, logits};
  pool_run(&e->pool, head_pool_task, &task);
  pool_run(&e->pool, classifier_task, &task);
}
