/* One reader per layer kind (reader.h): each checks every value before anything is allocated or indexed by it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

static effnet_int8_status check_requant(const conv_layer_t *c, int32_t channels, int32_t index, char *error, size_t error_size) {
  for (int32_t ch = 0; ch < channels; ch++) {
    if (c->mult[ch] < (1 << 30) || c->shift[ch] < 0 || c->shift[ch] > 31 || c->bias[ch] < -(1 << 30) || c->bias[ch] > (1 << 30)) {
      FAIL("layer %d: requantization of channel %d out of range (multiplier %d, shift %d, bias %d)", index, ch, c->mult[ch], c->shift[ch], c->bias[ch]);
    }
  }
  return EFFNET_INT8_OK;
}

/* A conv's or depthwise's slots, channels, kernel, stride and padding, checked against its input; the output size. */
static effnet_int8_status read_conv_geometry(const effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index,
                                             const shape_t *shapes, char *error, size_t error_size) {
  conv_layer_t *c = &l->conv;
  const int conv = l->kind == KIND_CONV;
  c->in_slot = read_i32(r);
  c->out_slot = read_i32(r);
  c->residual.slot = conv ? read_i32(r) : -1;
  c->in_c = read_i32(r);
  c->out_c = conv ? read_i32(r) : c->in_c;
  c->kh = read_i32(r);
  c->kw = read_i32(r);
  c->stride = read_i32(r);
  c->pad_top = read_i32(r);
  c->pad_left = read_i32(r);
  c->pad_bottom = read_i32(r);
  c->pad_right = read_i32(r);
  c->in_zero = read_i32(r);
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
  if (c->in_zero < -128 || c->in_zero > 127) FAIL("layer %d: input zero point %d outside int8", index, c->in_zero);
  if (c->in_slot < 0 || c->in_slot >= e->slot_count || c->out_slot < 0 || c->out_slot >= e->slot_count || c->in_slot == c->out_slot) {
    FAIL("layer %d: slots %d → %d invalid for %d slots", index, c->in_slot, c->out_slot, e->slot_count);
  }
  const shape_t in = shapes[c->in_slot];
  if (!in.set) FAIL("layer %d reads slot %d before any layer wrote it", index, c->in_slot);
  if (c->in_c != in.c) FAIL("layer %d expects %d input channels, its input has %d", index, c->in_c, in.c);
  if (c->out_c < 1 || c->out_c > 16384 || c->kh < 1 || c->kh > 15 || c->kw < 1 || c->kw > 15 || c->stride < 1 || c->stride > 4) {
    FAIL("layer %d: unsupported geometry (out channels %d, kernel %dx%d, stride %d)", index, c->out_c, c->kh, c->kw, c->stride);
  }
  if (c->pad_top < 0 || c->pad_top >= c->kh || c->pad_bottom < 0 || c->pad_bottom >= c->kh || c->pad_left < 0 ||
      c->pad_left >= c->kw || c->pad_right < 0 || c->pad_right >= c->kw) {
    FAIL("layer %d: padding %d,%d,%d,%d out of range for a %dx%d kernel", index, c->pad_top, c->pad_left, c->pad_bottom, c->pad_right, c->kh, c->kw);
  }
  c->in_h = in.h;
  c->in_w = in.w;
  c->out_h = (in.h + c->pad_top + c->pad_bottom - c->kh) / c->stride + 1;
  c->out_w = (in.w + c->pad_left + c->pad_right - c->kw) / c->stride + 1;
  if (in.h + c->pad_top + c->pad_bottom < c->kh || in.w + c->pad_left + c->pad_right < c->kw) FAIL("layer %d: kernel larger than its padded input", index);
  return EFFNET_INT8_OK;
}

/* A conv's GEMM sizes and its fused SE-gated input and residual add, each checked against what it reads. */
static effnet_int8_status read_conv_fusions(const effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index,
                                            const shape_t *shapes, int32_t gate_channels, char *error, size_t error_size) {
  conv_layer_t *c = &l->conv;
  c->k = c->kh * c->kw * c->in_c;
  if (c->k > 65536) FAIL("layer %d: reduction length %d too large", index, c->k);
  c->k_pad = round_up(c->k, 4);
  c->n_pad = round_up(c->out_c, 8);
  if (l->flags & FLAG_SE_INPUT) {
    c->gate.in_scale = read_f32(r);
    c->gate.out_scale = read_f32(r);
    c->gate.in_zero = read_i32(r);
    c->gate.out_zero = read_i32(r);
    if (c->gate.in_zero < -128 || c->gate.in_zero > 127 || c->gate.out_zero < -128 || c->gate.out_zero > 127) {
      FAIL("layer %d: gate zero points %d, %d outside int8", index, c->gate.in_zero, c->gate.out_zero);
    }
    if (gate_channels != c->in_c) FAIL("layer %d scales its input by a squeeze-excitation gate of %d channels, it has %d", index, gate_channels, c->in_c);
    if (c->kh != 1 || c->kw != 1 || c->stride != 1) FAIL("layer %d: a gated input needs a 1x1 stride-1 conv", index);
    if (!positive_normal(c->gate.in_scale) || !positive_normal(c->gate.out_scale)) FAIL("layer %d: a gate scale is not a positive normal number", index);
  }
  if (l->flags & FLAG_RESIDUAL) {
    residual_t *res = &c->residual;
    res->main_scale = read_f32(r);
    res->skip_scale = read_f32(r);
    res->out_scale = read_f32(r);
    if (!positive_normal(res->main_scale) || !positive_normal(res->skip_scale) || !positive_normal(res->out_scale)) {
      FAIL("layer %d: a residual scale is not a positive normal number", index);
    }
    if (res->slot < 0 || res->slot >= e->slot_count || res->slot == c->out_slot) FAIL("layer %d: residual slot %d invalid", index, res->slot);
    const shape_t skip = shapes[res->slot];
    if (!skip.set || skip.h != c->out_h || skip.w != c->out_w || skip.c != c->out_c) {
      FAIL("layer %d: residual input %dx%dx%d does not match the output %dx%dx%d", index, skip.h, skip.w, skip.c, c->out_h, c->out_w, c->out_c);
    }
  }
  return EFFNET_INT8_OK;
}

/* A conv's or depthwise's weights, requantization and activation table. */
static effnet_int8_status read_conv_parameters(effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index, char *error,
                                               size_t error_size) {
  conv_layer_t *c = &l->conv;
  size_t *wb = &e->weight_bytes;
  if (l->kind == KIND_CONV) {
    /* [out][kh][kw][in] in the file, zero padded to k_pad in memory. */
    const int8_t *w = (const int8_t *)take(r, (size_t)c->out_c * c->k);
    if (!w) FAIL("layer %d: the file ends inside its weights", index);
    c->weights = aligned_alloc(64, ((size_t)c->out_c * c->k_pad + 63) & ~(size_t)63);
    if (!c->weights) return EFFNET_INT8_OUT_OF_MEMORY;
    for (int32_t o = 0; o < c->out_c; o++) {
      memcpy(c->weights + (size_t)o * c->k_pad, w + (size_t)o * c->k, (size_t)c->k);
      memset(c->weights + (size_t)o * c->k_pad + c->k, 0, (size_t)(c->k_pad - c->k));
    }
    *wb += (size_t)c->out_c * c->k;
    l->macs = (int64_t)c->out_h * c->out_w * c->out_c * c->k;
  } else {
    c->weights = read_array(r, (size_t)c->kh * c->kw * c->in_c, 1, wb);
    l->macs = (int64_t)c->out_h * c->out_w * c->in_c * c->kh * c->kw;
  }
  c->bias = read_array(r, (size_t)c->out_c, 4, wb);
  c->mult = read_array(r, (size_t)c->out_c, 4, wb);
  c->shift = read_array(r, (size_t)c->out_c, 4, wb);
  if (l->flags & FLAG_ACTIVATION) {
    const uint8_t *table = take(r, 256);
    if (table) memcpy(c->table, table, 256);
  }
  if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
  if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
  return check_requant(c, l->kind == KIND_CONV ? c->out_c : c->in_c, index, error, error_size);
}

static effnet_int8_status read_conv_layer(effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index, shape_t *shapes,
                                          shape_t *pooled, int32_t gate_channels, char *error, size_t error_size) {
  conv_layer_t *c = &l->conv;
  effnet_int8_status status = read_conv_geometry(e, r, l, index, shapes, error, error_size);
  if (status == EFFNET_INT8_OK && l->kind == KIND_CONV) status = read_conv_fusions(e, r, l, index, shapes, gate_channels, error, error_size);
  if (status == EFFNET_INT8_OK) status = read_conv_parameters(e, r, l, index, error, error_size);
  if (status != EFFNET_INT8_OK) return status;
  if ((int64_t)c->out_h * c->out_w * c->out_c > ((int64_t)1 << 28)) FAIL("layer %d: output tensor too large", index);
  shapes[c->out_slot] = (shape_t){c->out_h, c->out_w, c->out_c, 1};
  if (l->flags & FLAG_POOL) *pooled = shapes[c->out_slot];
  if (l->kind == KIND_CONV) {
    if (c->k_pad > e->max_k_pad) e->max_k_pad = c->k_pad;
    if (c->n_pad > e->max_n_pad) e->max_n_pad = c->n_pad;
  } else if (c->out_w * c->in_c > e->max_row_acc) {
    e->max_row_acc = c->out_w * c->in_c;
  }
  if (c->in_c > e->max_channels) e->max_channels = c->in_c;
  if (c->out_c > e->max_channels) e->max_channels = c->out_c;
  return EFFNET_INT8_OK;
}

/* FC2's weights, [c][reduced] in the file, as [reduced][c] so that FC2 runs along c; r->failed = 2 when out of memory. */
static void transpose_fc2(se_layer_t *se, reader_t *r) {
  int8_t *by_reduced = malloc((size_t)se->reduced * se->in_c);
  if (!by_reduced) {
    r->failed = 2;
  } else {
    for (int32_t c = 0; c < se->in_c; c++) {
      for (int32_t j = 0; j < se->reduced; j++) by_reduced[(size_t)j * se->in_c + c] = se->fc2_weights[(size_t)c * se->reduced + j];
    }
  }
  free(se->fc2_weights);
  se->fc2_weights = by_reduced;
}

/* The squeeze-excitation's arrays, after its scales were read and checked. */
static effnet_int8_status read_se_arrays(effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index, char *error, size_t error_size) {
  se_layer_t *se = &l->se;
  size_t *wb = &e->weight_bytes;
  se->fc1_weights = read_array(r, (size_t)se->reduced * se->in_c, 1, wb);
  se->fc1_scale = read_array(r, (size_t)se->reduced, 4, wb);
  se->fc1_bias = read_array(r, (size_t)se->reduced, 4, wb);
  const uint8_t *table = take(r, 256);
  if (table) memcpy(se->fc1_table, table, 256);
  se->fc2_weights = read_array(r, (size_t)se->reduced * se->in_c, 1, wb);
  if (se->fc2_weights) transpose_fc2(se, r);
  se->fc2_scale = read_array(r, (size_t)se->in_c, 4, wb);
  se->fc2_bias = read_array(r, (size_t)se->in_c, 4, wb);
  if (l->flags & FLAG_ACTIVATION) {
    se->fc2_out_scale = read_f32(r);
    se->gate_table = read_array(r, 256, 4, wb);
    if (!r->failed && !positive_normal(se->fc2_out_scale)) FAIL("layer %d: the gate input scale is not a positive normal number", index);
    for (int32_t i = 0; se->gate_table && i < 256; i++) {
      if (!isfinite(se->gate_table[i])) FAIL("layer %d: a non-finite gate table entry", index);
    }
  }
  if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
  if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
  for (int32_t i = 0; i < se->reduced; i++) {
    if (!isfinite(se->fc1_scale[i]) || !isfinite(se->fc1_bias[i])) FAIL("layer %d: a non-finite first-FC parameter", index);
  }
  for (int32_t i = 0; i < se->in_c; i++) {
    if (!isfinite(se->fc2_scale[i]) || !isfinite(se->fc2_bias[i])) FAIL("layer %d: a non-finite second-FC parameter", index);
  }
  return EFFNET_INT8_OK;
}

static effnet_int8_status read_se_layer(effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index, const shape_t *pooled,
                                        int32_t *gate_channels, char *error, size_t error_size) {
  se_layer_t *se = &l->se;
  se->in_c = read_i32(r);
  se->reduced = read_i32(r);
  se->in_scale = read_f32(r);
  se->pool_scale = read_f32(r);
  se->fc1_out_scale = read_f32(r);
  se->fc1_act_scale = read_f32(r);
  se->gate_scale = read_f32(r);
  se->in_zero = read_i32(r);
  se->fc1_act_zero = read_i32(r);
  se->gate_zero = read_i32(r);
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
  if (se->in_zero < -128 || se->in_zero > 127 || se->fc1_act_zero < -128 || se->fc1_act_zero > 127 || se->gate_zero < -128 || se->gate_zero > 127) {
    FAIL("layer %d: squeeze-excitation zero points %d, %d, %d outside int8", index, se->in_zero, se->fc1_act_zero, se->gate_zero);
  }
  if (!pooled->set || pooled->c != se->in_c) FAIL("layer %d: squeeze-excitation of %d channels without a pooled depthwise output of that width", index, se->in_c);
  if (se->reduced < 1 || se->reduced > 16384) FAIL("layer %d: squeeze-excitation width %d out of range", index, se->reduced);
  if (!positive_normal(se->in_scale) || !positive_normal(se->pool_scale) || !positive_normal(se->fc1_out_scale) ||
      !positive_normal(se->fc1_act_scale) || !positive_normal(se->gate_scale)) {
    FAIL("layer %d: a squeeze-excitation scale is not a positive normal number", index);
  }
  se->in_h = pooled->h;
  se->in_w = pooled->w;
  const effnet_int8_status status = read_se_arrays(e, r, l, index, error, error_size);
  if (status != EFFNET_INT8_OK) return status;
  *gate_channels = se->in_c;
  if (se->reduced > e->max_reduced) e->max_reduced = se->reduced;
  l->macs = 2 * (int64_t)se->in_c * se->reduced;
  return EFFNET_INT8_OK;
}

static effnet_int8_status read_head_layer(effnet_int8_engine *e, reader_t *r, layer_t *l, int32_t index, const shape_t *shapes,
                                          char *error, size_t error_size) {
  head_layer_t *h = &l->head;
  size_t *wb = &e->weight_bytes;
  h->in_slot = read_i32(r);
  h->in_c = read_i32(r);
  h->classes = read_i32(r);
  h->in_scale = read_f32(r);
  h->pool_scale = read_f32(r);
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
  if (h->in_slot < 0 || h->in_slot >= e->slot_count || !shapes[h->in_slot].set) FAIL("layer %d reads slot %d, which no layer wrote", index, h->in_slot);
  if (shapes[h->in_slot].c != h->in_c) FAIL("layer %d expects %d input channels, its input has %d", index, h->in_c, shapes[h->in_slot].c);
  if (h->classes != e->classes) FAIL("layer %d produces %d logits, the header says %d classes", index, h->classes, e->classes);
  if (index != e->layer_count - 1) FAIL("layer %d: the classifier head must be the last layer", index);
  if (!positive_normal(h->in_scale) || !positive_normal(h->pool_scale)) FAIL("layer %d: a head scale is not a positive normal number", index);
  h->in_h = shapes[h->in_slot].h;
  h->in_w = shapes[h->in_slot].w;
  h->weights = read_array(r, (size_t)h->classes * h->in_c, 1, wb);
  h->scale = read_array(r, (size_t)h->classes, 4, wb);
  h->bias = read_array(r, (size_t)h->classes, 4, wb);
  if (l->flags & FLAG_ACTIVATION) {
    h->table = read_array(r, 256, 4, wb);
    for (int32_t i = 0; h->table && i < 256; i++) {
      if (!isfinite(h->table[i])) FAIL("layer %d: a non-finite activation table entry", index);
    }
  }
  if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
  if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
  for (int32_t i = 0; i < h->classes; i++) {
    if (!isfinite(h->scale[i]) || !isfinite(h->bias[i])) FAIL("layer %d: a non-finite classifier parameter", index);
  }
  if (h->in_c > e->max_channels) e->max_channels = h->in_c;
  l->macs = (int64_t)h->in_c * h->classes;
  return EFFNET_INT8_OK;
}

/* One layer: the kind, block and flags every layer starts with, then its kind's reader. */
effnet_int8_status read_layer(effnet_int8_engine *e, reader_t *r, int32_t index, shape_t *shapes,
                                     shape_t *pooled, int32_t *gate_channels, char *error, size_t error_size) {
  layer_t *l = &e->layers[index];
  l->kind = read_i32(r);
  l->block = read_i32(r);
  l->flags = read_i32(r);
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
  if (l->block < 0 || l->block > 1000) FAIL("layer %d: block number %d out of range", index, l->block);
  const int32_t known = l->kind == KIND_CONV ? (FLAG_ACTIVATION | FLAG_SE_INPUT | FLAG_RESIDUAL)
                        : l->kind == KIND_DEPTHWISE ? (FLAG_ACTIVATION | FLAG_POOL)
                        : l->kind == KIND_HEAD || l->kind == KIND_SE ? FLAG_ACTIVATION : 0;
  if (l->flags & ~known) FAIL("layer %d: unknown flags 0x%x for layer kind %d", index, l->flags, l->kind);
  switch (l->kind) {
    case KIND_CONV:
    case KIND_DEPTHWISE: return read_conv_layer(e, r, l, index, shapes, pooled, *gate_channels, error, error_size);
    case KIND_SE: return read_se_layer(e, r, l, index, pooled, gate_channels, error, error_size);
    case KIND_HEAD: return read_head_layer(e, r, l, index, shapes, error, error_size);
  }
  FAIL("layer %d: unknown layer kind %d (a newer engine file?)", index, l->kind);
}
