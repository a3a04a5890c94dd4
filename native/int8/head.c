/* The classifier head: the global average pool and the classifier, each split over the pool's threads. */
#include "engine.h"

/* Classes a thread claims at a time. */
#define CLASSIFIER_ITEM 64

typedef struct {
  effnet_int8_engine *e;
  const head_layer_t *h;
  float *logits;
} head_task_t;

/* The classifier (1000 × 1280 for ImageNet B0) split over the threads by class. */
CLONES static void classifier_task(void *raw, pool_claim_t *claim) {
  const head_task_t *task = raw;
  const head_layer_t *h = task->h;
  const int32_t c_count = h->in_c;
  int32_t dots[CLASSIFIER_ITEM];
  do {
    task->e->kernels->classifier(task->e->pooled, h->weights, c_count, claim->begin, claim->end, dots);
    for (int32_t o = claim->begin; o < claim->end; o++) task->logits[o] = (float)dots[o - claim->begin] * h->scale[o] + h->bias[o];
  } while (pool_next(claim));
}

/* The head's global average pool of channels [first, last), each channel summed in pixel order as on one thread. */
CLONES static void head_pool_channels(const head_task_t *task, int32_t first, int32_t last) {
  effnet_int8_engine *e = task->e;
  const head_layer_t *h = task->h;
  const int8_t *in = tensor(e, h->in_slot, (size_t)h->in_h * h->in_w * h->in_c);
  const int32_t pixels = h->in_h * h->in_w, c_count = h->in_c;
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

/* Channels in groups of 16 (two cache lines of sums), four groups an item. */
static void head_pool_task(void *raw, pool_claim_t *claim) {
  const head_task_t *task = raw;
  do {
    const int32_t last = claim->end * 16 < task->h->in_c ? claim->end * 16 : task->h->in_c;
    head_pool_channels(task, claim->begin * 16, last);
  } while (pool_next(claim));
}

void run_head(effnet_int8_engine *e, const head_layer_t *h, float *logits) {
  head_task_t task = {e, h, logits};
  pool_run(&e->pool, head_pool_task, &task, (pool_split_t){(h->in_c + 15) / 16, 1, 4});
  pool_run(&e->pool, classifier_task, &task, (pool_split_t){h->classes, 1, CLASSIFIER_ITEM});
}
