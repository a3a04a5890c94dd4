/*
 * The engine-file loader. It trusts nothing in the file: every count, shape, slot and multiplier is range-checked
 * before anything is allocated or indexed, so a truncated, bit-flipped or foreign file is an error message, never a
 * crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine file is little-endian and read in place; big-endian hosts are not supported"
#endif

#define HEADER_SIZE 56
static const char MAGIC[8] = {'E', 'F', 'N', 'T', 'I', 'N', 'T', '8'};

static uint32_t crc32_of(const uint8_t *data, size_t size) {
  static uint32_t table[256];
  static int ready = 0;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

typedef struct {
  const uint8_t *data;
  size_t size, offset;
  int failed;
} reader_t;

static const uint8_t *take(reader_t *r, size_t bytes) {
  if (r->failed || bytes > r->size - r->offset) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *at = r->data + r->offset;
  r->offset += (bytes + 3) & ~(size_t)3; /* every array starts 4-byte aligned */
  if (r->offset > r->size) r->offset = r->size;
  return at;
}

static int32_t read_i32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  int32_t v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

static float read_f32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  float v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

/* An owned copy of an array from the file (the file buffer is not kept). */
static void *read_array(reader_t *r, size_t count, size_t element, size_t *weight_bytes) {
  if (count == 0 || count > ((size_t)1 << 31) / element) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *p = take(r, count * element);
  if (!p) return NULL;
  void *copy = aligned_alloc(64, (count * element + 63) & ~(size_t)63);
  if (!copy) {
    r->failed = 2;
    return NULL;
  }
  memcpy(copy, p, count * element);
  /* Vector kernels may read a partial last block; those lanes are discarded, but read zeros, not garbage. */
  memset((uint8_t *)copy + count * element, 0, ((count * element + 63) & ~(size_t)63) - count * element);
  *weight_bytes += count * element;
  return copy;
}

/* Scales must be positive normal floats: zero, infinite and NaN are meaningless, and a subnormal scale is flushed to
 * zero by some vector paths (DAZ/FTZ, NEON) but not by the scalar one, so the paths would disagree. */
static int positive_normal(float v) { return isnormal(v) && v > 0; }

typedef struct {
  int32_t h, w, c, set;
} shape_t;

void free_layers(effnet_int8_engine *e) {
  if (!e->layers) return;
  for (int32_t i = 0; i < e->layer_count; i++) {
    const layer_t *l = &e->layers[i];
    const conv_layer_t *c = &l->conv;
    const se_layer_t *se = &l->se;
    const head_layer_t *h = &l->head;
    if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
      void *arrays[] = {c->weights, c->packed, c->bias, c->mult, c->shift};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    } else if (l->kind == KIND_SE) {
      void *arrays[] = {se->fc1_weights, se->fc2_weights, se->fc1_scale, se->fc1_bias, se->fc2_scale, se->fc2_bias, se->gate_table};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    } else if (l->kind == KIND_HEAD) {
      void *arrays[] = {h->weights, h->scale, h->bias, h->table};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    }
  }
  free(e->layers);
  e->layers = NULL;
}

/* Per-layer validation messages name the layer so a writer bug is findable. */
#define FAIL(...)                                          \
  do {                                                     \
    set_error(error, error_size, __VA_ARGS__);             \
    return EFFNET_INT8_FORMAT_ERROR;                       \
  } while (0)

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
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
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
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
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
static effnet_int8_status read_layer(effnet_int8_engine *e, reader_t *r, int32_t index, shape_t *shapes,
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

/* The header's checks, in the order a damaged file is most usefully described; the header's words on success. */
static effnet_int8_status check_header(const uint8_t *bytes, size_t size, uint32_t header[12], char *error, size_t error_size) {
  if (size < 8 || memcmp(bytes, MAGIC, 8) != 0) {
    set_error(error, error_size, "not an effnet-edge int8 engine file (no EFNTINT8 signature)");
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (size < HEADER_SIZE) {
    set_error(error, error_size, "truncated: %zu bytes, shorter than the %d-byte header", size, HEADER_SIZE);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  memcpy(header, bytes + 8, 12 * sizeof(uint32_t));
  const uint32_t version = header[0], header_size = header[1], file_size = header[2], crc = header[3];
  if (version != EFFNET_INT8_FILE_VERSION) {
    set_error(error, error_size, "engine file version %u, this engine reads version %d; write the engine file again with this effnet-edge", version, EFFNET_INT8_FILE_VERSION);
    return EFFNET_INT8_VERSION_MISMATCH;
  }
  if (header_size != HEADER_SIZE) {
    set_error(error, error_size, "header size %u, expected %d", header_size, HEADER_SIZE);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (file_size != size) {
    set_error(error, error_size, "truncated or padded: the header says %u bytes, the file has %zu", file_size, size);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (crc32_of(bytes + HEADER_SIZE, size - HEADER_SIZE) != crc) {
    set_error(error, error_size, "damaged: the checksum of the layer data does not match the header");
    return EFFNET_INT8_FORMAT_ERROR;
  }
  return EFFNET_INT8_OK;
}

/* The header's input, classes and layout into e; FORMAT_ERROR (with the values) where one is out of range. */
static effnet_int8_status read_header_values(effnet_int8_engine *e, const uint32_t header[12], char *error, size_t error_size) {
  e->channels = (int32_t)header[4];
  e->height = (int32_t)header[5];
  e->width = (int32_t)header[6];
  e->classes = (int32_t)header[7];
  e->slot_count = (int32_t)header[8];
  e->layer_count = (int32_t)header[9];
  e->input_slot = (int32_t)header[10];
  memcpy(&e->input_scale, &header[11], 4);
  if (e->channels < 1 || e->channels > 16384 || e->height < 1 || e->height > 4096 || e->width < 1 || e->width > 4096 ||
      e->classes < 0 || e->classes > 100000 || e->slot_count < 1 || e->slot_count > MAX_SLOTS || e->layer_count < 1 ||
      e->layer_count > 4096 || e->input_slot < 0 || e->input_slot >= e->slot_count || !positive_normal(e->input_scale)) {
    set_error(error, error_size, "header values out of range (input %dx%dx%d, %d classes, %d slots, %d layers, input scale %g)",
              e->channels, e->height, e->width, e->classes, e->slot_count, e->layer_count, (double)e->input_scale);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  return EFFNET_INT8_OK;
}

/* Every layer in file order, each checked against the shapes the layers before it wrote; then nothing may follow. */
static effnet_int8_status read_layers(effnet_int8_engine *e, const uint8_t *bytes, size_t size, char *error, size_t error_size) {
  e->layers = calloc((size_t)e->layer_count, sizeof(layer_t));
  if (!e->layers) return EFFNET_INT8_OUT_OF_MEMORY;
  reader_t reader = {bytes, size, HEADER_SIZE, 0};
  shape_t shapes[MAX_SLOTS] = {{0}}, pooled = {0};
  int32_t gate_channels = -1;
  shapes[e->input_slot] = (shape_t){e->height, e->width, e->channels, 1};
  for (int32_t i = 0; i < e->layer_count; i++) {
    const effnet_int8_status status = read_layer(e, &reader, i, shapes, &pooled, &gate_channels, error, error_size);
    if (status != EFFNET_INT8_OK) return status;
    const layer_t *l = &e->layers[i];
    if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
      e->last_slot = l->conv.out_slot;
      e->output_count = (size_t)l->conv.out_h * l->conv.out_w * l->conv.out_c;
    }
    e->macs += l->macs;
  }
  if (reader.offset != size) {
    set_error(error, error_size, "%zu bytes after the last layer", size - reader.offset);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  return EFFNET_INT8_OK;
}

effnet_int8_status engine_from_file(const uint8_t *bytes, size_t size, effnet_int8_engine **engine, char *error,
                                    size_t error_size) {
  *engine = NULL;
  uint32_t header[12];
  effnet_int8_status status = check_header(bytes, size, header, error, error_size);
  if (status != EFFNET_INT8_OK) return status;
  effnet_int8_engine *e = calloc(1, sizeof *e);
  if (!e) return EFFNET_INT8_OUT_OF_MEMORY;
  e->pool.count = 1;
  e->threads = 1;
  *engine = e;
  status = read_header_values(e, header, error, error_size);
  if (status == EFFNET_INT8_OK) status = read_layers(e, bytes, size, error, error_size);
  return status;
}
