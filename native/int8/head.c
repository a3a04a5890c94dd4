/* The classifier head: the global average pool and the classifier, each split over the pool's threads. */
#include "engine.h"

typedef struct {
  effnet_int8_engine *e;
  const layer_t *l;
  float *logits;
} head_task_t;

/* The classifier (1000 × 1280 for ImageNet B0) split over the threads by class. */
CLONES static void classifier_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  const layer_t *l = task->l;
  const int32_t c_count = l->in_c;
  const int32_t first = share_start(l->out_c, thread, threads, 1), last = share_start(l->out_c, thread + 1, threads, 1);
  for (int32_t o = first; o < last; o++) {
    const int8_t *w = l->weights + (size_t)o * c_count;
    int32_t acc = 0;
    for (int32_t c = 0; c < c_count; c++) acc += task->e->pooled[c] * w[c];
    task->logits[o] = (float)acc * l->head_scale[o] + l->head_bias[o];
  }
}

/* The head's global average pool, channels split by thread (each channel summed in pixel order, as on one thread). */
CLONES static void head_pool_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const int8_t *in = layer_input(e, l);
  const int32_t pixels = l->in_h * l->in_w, c_count = l->in_c, groups = (c_count + 15) / 16;
  const int32_t first = share_start(groups, thread, threads, 1) * 16, group_end = share_start(groups, thread + 1, threads, 1) * 16;
  const int32_t last = group_end < c_count ? group_end : c_count;
  double *sums = e->head_sums;
  for (int32_t c = first; c < last; c++) sums[c] = 0;
  /* With a table the pooled values are the activation's float outputs (the graph pools them unquantized). */
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *px = in + (size_t)p * c_count;
    if (l->head_table) {
      for (int32_t c = first; c < last; c++) sums[c] += l->head_table[(uint8_t)px[c]];
    } else {
      for (int32_t c = first; c < last; c++) sums[c] += px[c] * (double)l->head_in_scale;
    }
  }
  for (int32_t c = first; c < last; c++) e->pooled[c] = quantize_value((float)(sums[c] / pixels), l->head_pool_scale);
}

void run_head(effnet_int8_engine *e, const layer_t *l, float *logits) {
  head_task_t task = {e, l, logits};
  pool_run(&e->pool, head_pool_task, &task);
  pool_run(&e->pool, classifier_task, &task);
}
