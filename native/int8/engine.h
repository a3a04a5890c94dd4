/*
 * The engine object and what the engine's files (loader.c, plan.c, isa.c, conv.c, se.c, head.c, run.c, engine.c)
 * share about it. The public API is effnet_int8.h; the kernels see only internal.h.
 */
#ifndef EFFNET_INT8_ENGINE_H
#define EFFNET_INT8_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "pool.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct {
  int16_t *rows;   /* CHUNK_ROWS × max k_pad, in the path's GEMM row format */
  int8_t *patches; /* CHUNK_ROWS × max k: a k×k conv's gathered input rows */
  int32_t *acc;  /* max(CHUNK_ROWS × max n_pad, out_w × c) */
  int32_t *pool; /* max pooled channels */
  uint8_t *padded; /* this thread's window of a padded input (pad_rows) */
} scratch_t;

struct effnet_int8_engine {
  int32_t channels, height, width, classes, slot_count, layer_count, input_slot, last_slot;
  float input_scale;
  layer_t *layers;
  size_t slot_offset[MAX_SLOTS], slot_bytes[MAX_SLOTS];
  size_t output_count; /* the last layer's int8 tensor (run_quantized) */
  uint8_t *arena;
  size_t arena_bytes, weight_bytes;
  int32_t max_k_pad, max_n_pad, max_row_acc, max_channels, max_reduced;
  float *gate; /* the dequantized SE gate, one value per channel */
  int8_t *pooled, *fc1_out;
  double *head_sums;
  int8_t *staging; /* the quantized input in NCHW, before it is interleaved; also the SE's quantized FC2 outputs */
  float *se_values;  /* the SE's float vectors (pooled, FC1 and FC2 outputs) before they are quantized */
  int32_t *se_acc;   /* the SE's FC2 accumulators */
  double *se_logits; /* the SE's FC2 outputs in double, where the gate's Sigmoid reads them unquantized */
  const kernels_t *kernels;
  int32_t threads, profiling;
  int32_t image_split; /* effnet_int8_set_image_split: 1 (default) layer by layer on all threads, 0 on the caller's */
  pool_t pool;
  scratch_t scratch[MAX_THREADS];
  /*
   * Batches of at least `threads` images run one image per thread, with no barrier between layers: worker t runs
   * views[t], a one-thread view of this engine (the same layers and weights, its own scratch, and for t ≥ 1 its own
   * arena and vectors; view 0 shares this engine's). NULL on one thread.
   */
  effnet_int8_engine *views[MAX_THREADS];
  int32_t owns_buffers; /* 0 in view 0, whose arena and vectors are its engine's */
  int64_t macs;
};

/* One layer's work for pool_run. */
typedef struct {
  effnet_int8_engine *e;
  const layer_t *l;
} task_t;

void set_error(char *error, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* loader.c: a new engine from a whole engine file, its layers read and checked, nothing else allocated. */
effnet_int8_status engine_from_file(const uint8_t *bytes, size_t size, effnet_int8_engine **engine, char *error,
                                    size_t error_size);
void free_layers(effnet_int8_engine *e);

/* plan.c: the arena's slots, one image's buffers, the per-thread scratch and the one-thread views. */
void plan_arena(effnet_int8_engine *e);
effnet_int8_status allocate_buffers(effnet_int8_engine *e);
void free_buffers(effnet_int8_engine *e);
effnet_int8_status allocate_scratch(effnet_int8_engine *e, int32_t threads);
void free_scratch(effnet_int8_engine *e);
effnet_int8_status make_views(effnet_int8_engine *e, int32_t threads);
void free_views(effnet_int8_engine *e);

/* isa.c: the kernels of a path (NULL where this CPU or build lacks it), its name, and the weights packed for it. */
const kernels_t *kernels_for(int32_t isa);
const char *isa_name(int32_t isa);
effnet_int8_status use_kernels(effnet_int8_engine *e, const kernels_t *k);

/* conv.c, se.c, head.c: the layers' work (the tasks run claimed items on the pool's threads, a task_t as argument). */
pool_split_t conv_split(const effnet_int8_engine *e, const layer_t *l);
void conv_task(void *raw, pool_claim_t *claim);
pool_split_t depthwise_split(const effnet_int8_engine *e, const layer_t *l);
void depthwise_task(void *raw, pool_claim_t *claim);
void run_se(effnet_int8_engine *e, const se_layer_t *se);
void run_head(effnet_int8_engine *e, const head_layer_t *h, float *logits);

/* run.c: `batch` float NCHW images to logits; one int8 NHWC image to the last layer's int8 tensor. */
void run_images(effnet_int8_engine *e, const float *input, int32_t batch, float *logits);
void run_quantized_image(effnet_int8_engine *e, const int8_t *input, int8_t *output);

/*
 * A tensor of `bytes` in arena slot `index`, centred in the slot. Threads split every tensor in order (runs of pixels
 * or rows), so with two threads, thread 0 writes below the slot's middle and thread 1 above it whatever the tensor's
 * size: the lines a thread writes were last written by that same thread, not fetched from the other core. (A slot
 * holds tensors of many sizes; starting them all at its base made the 56×56 expand convs scale 1.1× on two threads.)
 */
static inline int8_t *tensor(effnet_int8_engine *e, int32_t index, size_t bytes) {
  return (int8_t *)e->arena + e->slot_offset[index] + ((e->slot_bytes[index] - bytes) / 2 & ~(size_t)63);
}

/* A conv's or depthwise's input and output tensors (the head finds its input with tensor()). */
static inline int8_t *layer_input(effnet_int8_engine *e, const layer_t *l) { return tensor(e, l->conv.in_slot, (size_t)l->conv.in_h * l->conv.in_w * l->conv.in_c); }
static inline int8_t *layer_output(effnet_int8_engine *e, const layer_t *l) { return tensor(e, l->conv.out_slot, (size_t)l->conv.out_h * l->conv.out_w * l->conv.out_c); }

static inline int8_t *network_input(effnet_int8_engine *e) { return tensor(e, e->input_slot, (size_t)e->channels * e->height * e->width); }

/* One row of a layer's padded input as pad_rows writes it. */
static inline size_t padded_row_bytes(const layer_t *l) {
  return (size_t)(l->conv.in_w + l->conv.pad_left + l->conv.pad_right) * (pixel_quad_conv(l) ? 4 : l->conv.in_c);
}

#endif
