/*
 * Memory planning: the arena's slots (each as large as the largest tensor any layer writes to it), one image's
 * activations and vectors, each thread's scratch, and the one-thread views that run whole images in parallel.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Slot s holds every tensor written to it in turn, so it is as large as the largest; slots start 64-byte aligned. */
void plan_arena(effnet_int8_engine *e) {
  size_t slot_max[MAX_SLOTS] = {0};
  slot_max[e->input_slot] = (size_t)e->height * e->width * e->channels;
  for (int32_t i = 0; i < e->layer_count; i++) {
    const layer_t *l = &e->layers[i];
    if (l->kind != KIND_CONV && l->kind != KIND_DEPTHWISE) continue;
    const size_t bytes_out = (size_t)l->conv.out_h * l->conv.out_w * l->conv.out_c;
    if (bytes_out > slot_max[l->conv.out_slot]) slot_max[l->conv.out_slot] = bytes_out;
  }
  size_t offset = 0;
  for (int32_t s = 0; s < e->slot_count; s++) {
    e->slot_offset[s] = offset;
    e->slot_bytes[s] = slot_max[s];
    offset += (slot_max[s] + 63) & ~(size_t)63;
  }
  e->arena_bytes = offset;
}

void free_scratch(effnet_int8_engine *e) {
  for (int32_t t = 0; t < MAX_THREADS; t++) {
    free(e->scratch[t].rows);
    free(e->scratch[t].patches);
    free(e->scratch[t].acc);
    free(e->scratch[t].pool);
    free(e->scratch[t].padded);
    memset(&e->scratch[t], 0, sizeof e->scratch[t]);
  }
}

/* One image's activations and the vectors between layers. */
effnet_int8_status allocate_buffers(effnet_int8_engine *e) {
  e->owns_buffers = 1;
  e->arena = aligned_alloc(64, e->arena_bytes > 0 ? e->arena_bytes : 64);
  e->gate = calloc((size_t)e->max_channels + 1, sizeof(float));
  e->pooled = calloc((size_t)e->max_channels + 1, 1);
  e->fc1_out = calloc((size_t)e->max_reduced + 1, 1);
  e->head_sums = calloc((size_t)e->max_channels + 1, sizeof(double));
  e->staging = malloc((size_t)e->channels * e->height * e->width + (size_t)e->max_channels + 1);
  e->se_values = calloc((size_t)e->max_channels + e->max_reduced + 1, sizeof(float));
  /* FC2's sums per channel, and before them FC1's per reduced channel. */
  e->se_acc = calloc((size_t)(e->max_channels > e->max_reduced ? e->max_channels : e->max_reduced) + 1, sizeof(int32_t));
  e->se_logits = calloc((size_t)e->max_channels + 1, sizeof(double));
  const int ok = e->arena && e->gate && e->pooled && e->fc1_out && e->head_sums && e->staging && e->se_values && e->se_acc && e->se_logits;
  return ok ? EFFNET_INT8_OK : EFFNET_INT8_OUT_OF_MEMORY;
}

void free_buffers(effnet_int8_engine *e) {
  if (!e->owns_buffers) return;
  free(e->arena);
  free(e->gate);
  free(e->pooled);
  free(e->fc1_out);
  free(e->head_sums);
  free(e->staging);
  free(e->se_values);
  free(e->se_acc);
  free(e->se_logits);
}

/* The views share their engine's layers and scratch; they own only their buffers. */
void free_views(effnet_int8_engine *e) {
  for (int32_t t = 0; t < MAX_THREADS; t++) {
    if (!e->views[t]) continue;
    free_buffers(e->views[t]);
    free(e->views[t]);
    e->views[t] = NULL;
  }
}

/* Bytes of padded input rows (pad_rows) a thread needs at most for layer l (all of its rows, as a view running a whole
 * image on one thread pads them); 0 for layers that read none. */
static size_t padded_window_bytes(const layer_t *l) {
  if (l->kind != KIND_DEPTHWISE && !pixel_quad_conv(l)) return 0;
  const size_t rows = (size_t)(l->conv.out_h - 1) * l->conv.stride + l->conv.kh;
  /* Slack: the kernels read whole channel blocks past the last channel. */
  return rows * padded_row_bytes(l) + MAX_DEPTHWISE_BLOCK;
}

effnet_int8_status allocate_scratch(effnet_int8_engine *e, int32_t threads) {
  free_scratch(e);
  for (int32_t t = 0; t < threads; t++) {
    scratch_t *s = &e->scratch[t];
    const size_t rows = (size_t)CHUNK_ROWS * (e->max_k_pad > 0 ? e->max_k_pad : 4);
    size_t acc = (size_t)CHUNK_ROWS * (e->max_n_pad > 0 ? e->max_n_pad : 8);
    if ((size_t)e->max_row_acc > acc) acc = (size_t)e->max_row_acc;
    s->rows = aligned_alloc(64, (rows * sizeof(int16_t) + 63) & ~(size_t)63);
    s->patches = aligned_alloc(64, (rows + 63) & ~(size_t)63);
    s->acc = aligned_alloc(64, (acc * sizeof(int32_t) + 63) & ~(size_t)63);
    /* Whole 32-channel blocks: the fused depthwise kernels add their last block in full. */
    s->pool = aligned_alloc(64, (size_t)round_up(e->max_channels + 1, MAX_DEPTHWISE_BLOCK) * sizeof(int32_t));
    size_t padded = 64;
    for (int32_t i = 0; i < e->layer_count; i++) {
      const size_t bytes = padded_window_bytes(&e->layers[i]);
      if (bytes > padded) padded = bytes;
    }
    s->padded = aligned_alloc(64, (padded + 63) & ~(size_t)63);
    if (!s->rows || !s->patches || !s->acc || !s->pool || !s->padded) {
      free_scratch(e);
      return EFFNET_INT8_OUT_OF_MEMORY;
    }
  }
  return EFFNET_INT8_OK;
}

/* views[t] for each of `threads` workers (see the engine's struct); the scratch must be allocated already. */
effnet_int8_status make_views(effnet_int8_engine *e, int32_t threads) {
  for (int32_t t = 0; t < threads; t++) {
    effnet_int8_engine *v = malloc(sizeof *v);
    if (!v) return EFFNET_INT8_OUT_OF_MEMORY;
    *v = *e;
    memset(&v->pool, 0, sizeof v->pool);
    v->pool.count = 1;
    v->threads = 1;
    v->profiling = 0;
    memset(v->scratch, 0, sizeof v->scratch);
    v->scratch[0] = e->scratch[t];
    memset(v->views, 0, sizeof v->views);
    v->owns_buffers = 0;
    e->views[t] = v;
    if (t > 0 && allocate_buffers(v) != EFFNET_INT8_OK) return EFFNET_INT8_OUT_OF_MEMORY;
  }
  return EFFNET_INT8_OK;
}
