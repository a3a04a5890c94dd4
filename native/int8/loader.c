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
    layer_t *l = &e->layers[i];
    void *arrays[] = {l->weights, l->packed, l->bias, l->mult, l->shift, l->fc1_weights, l->fc2_weights,
                      l->fc1_scale, l->fc1_bias, l->fc2_scale, l->fc2_bias, l->head_scale, l->head_bias, l->head_table, l->gate_table};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
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

static effnet_int8_status check_requant(const layer_t *l, int32_t index, char *error, size_t error_size) {
  for (int32_t c = 0; c < (l->kind == KIND_CONV ? l->out_c : l->in_c); c++) {
    if (l->mult[c] < (1 << 30) || l->shift[c] < 0 || l->shift[c] > 31 || l->bias[c] < -(1 << 30) || l->bias[c] > (1 << 30)) {
      FAIL("layer %d: requantization of channel %d out of range (multiplier %d, shift %d, bias %d)", index, c, l->mult[c], l->shift[c], l->bias[c]);
    }
  }
  return EFFNET_INT8_OK;
}

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
  size_t *wb = &e->weight_bytes;

  if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
    const int conv = l->kind == KIND_CONV;
    l->in_slot = read_i32(r);
    l->out_slot = read_i32(r);
    l->res_slot = conv ? read_i32(r) : -1;
    l->in_c = read_i32(r);
    l->out_c = conv ? read_i32(r) : l->in_c;
    l->kh = read_i32(r);
    l->kw = read_i32(r);
    l->stride = read_i32(r);
    l->pad_top = read_i32(r);
    l->pad_left = read_i32(r);
    l->pad_bottom = read_i32(r);
    l->pad_right = read_i32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (l->in_slot < 0 || l->in_slot >= e->slot_count || l->out_slot < 0 || l->out_slot >= e->slot_count || l->in_slot == l->out_slot) {
      FAIL("layer %d: slots %d → %d invalid for %d slots", index, l->in_slot, l->out_slot, e->slot_count);
    }
    const shape_t in = shapes[l->in_slot];
    if (!in.set) FAIL("layer %d reads slot %d before any layer wrote it", index, l->in_slot);
    if (l->in_c != in.c) FAIL("layer %d expects %d input channels, its input has %d", index, l->in_c, in.c);
    if (l->out_c < 1 || l->out_c > 16384 || l->kh < 1 || l->kh > 15 || l->kw < 1 || l->kw > 15 || l->stride < 1 || l->stride > 4) {
      FAIL("layer %d: unsupported geometry (out channels %d, kernel %dx%d, stride %d)", index, l->out_c, l->kh, l->kw, l->stride);
    }
    if (l->pad_top < 0 || l->pad_top >= l->kh || l->pad_bottom < 0 || l->pad_bottom >= l->kh || l->pad_left < 0 ||
        l->pad_left >= l->kw || l->pad_right < 0 || l->pad_right >= l->kw) {
      FAIL("layer %d: padding %d,%d,%d,%d out of range for a %dx%d kernel", index, l->pad_top, l->pad_left, l->pad_bottom, l->pad_right, l->kh, l->kw);
    }
    l->in_h = in.h;
    l->in_w = in.w;
    l->out_h = (in.h + l->pad_top + l->pad_bottom - l->kh) / l->stride + 1;
    l->out_w = (in.w + l->pad_left + l->pad_right - l->kw) / l->stride + 1;
    if (in.h + l->pad_top + l->pad_bottom < l->kh || in.w + l->pad_left + l->pad_right < l->kw) FAIL("layer %d: kernel larger than its padded input", index);
    if (conv) {
      l->k = l->kh * l->kw * l->in_c;
      if (l->k > 65536) FAIL("layer %d: reduction length %d too large", index, l->k);
      l->k_pad = round_up(l->k, 4);
      l->n_pad = round_up(l->out_c, 8);
      if (l->flags & FLAG_SE_INPUT) {
        l->gate_in_scale = read_f32(r);
        l->gate_out_scale = read_f32(r);
        if (*gate_channels != l->in_c) FAIL("layer %d scales its input by a squeeze-excitation gate of %d channels, it has %d", index, *gate_channels, l->in_c);
        if (l->kh != 1 || l->kw != 1 || l->stride != 1) FAIL("layer %d: a gated input needs a 1x1 stride-1 conv", index);
        if (!positive_normal(l->gate_in_scale) || !positive_normal(l->gate_out_scale)) FAIL("layer %d: a gate scale is not a positive normal number", index);
      }
      if (l->flags & FLAG_RESIDUAL) {
        l->res_main_scale = read_f32(r);
        l->res_skip_scale = read_f32(r);
        l->res_out_scale = read_f32(r);
        if (!positive_normal(l->res_main_scale) || !positive_normal(l->res_skip_scale) || !positive_normal(l->res_out_scale)) {
          FAIL("layer %d: a residual scale is not a positive normal number", index);
        }
        if (l->res_slot < 0 || l->res_slot >= e->slot_count || l->res_slot == l->out_slot) FAIL("layer %d: residual slot %d invalid", index, l->res_slot);
        const shape_t skip = shapes[l->res_slot];
        if (!skip.set || skip.h != l->out_h || skip.w != l->out_w || skip.c != l->out_c) {
          FAIL("layer %d: residual input %dx%dx%d does not match the output %dx%dx%d", index, skip.h, skip.w, skip.c, l->out_h, l->out_w, l->out_c);
        }
      }
      /* [out][kh][kw][in] in the file, zero padded to k_pad in memory. */
      const int8_t *w = (const int8_t *)take(r, (size_t)l->out_c * l->k);
      if (!w) FAIL("layer %d: the file ends inside its weights", index);
      l->weights = aligned_alloc(64, ((size_t)l->out_c * l->k_pad + 63) & ~(size_t)63);
      if (!l->weights) return EFFNET_INT8_OUT_OF_MEMORY;
      for (int32_t o = 0; o < l->out_c; o++) {
        memcpy(l->weights + (size_t)o * l->k_pad, w + (size_t)o * l->k, (size_t)l->k);
        memset(l->weights + (size_t)o * l->k_pad + l->k, 0, (size_t)(l->k_pad - l->k));
      }
      *wb += (size_t)l->out_c * l->k;
      l->macs = (int64_t)l->out_h * l->out_w * l->out_c * l->k;
    } else {
      l->weights = read_array(r, (size_t)l->kh * l->kw * l->in_c, 1, wb);
      l->macs = (int64_t)l->out_h * l->out_w * l->in_c * l->kh * l->kw;
    }
    const int32_t channels = l->out_c;
    l->bias = read_array(r, (size_t)channels, 4, wb);
    l->mult = read_array(r, (size_t)channels, 4, wb);
    l->shift = read_array(r, (size_t)channels, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      const uint8_t *table = take(r, 256);
      if (table) memcpy(l->table, table, 256);
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    effnet_int8_status status = check_requant(l, index, error, error_size);
    if (status != EFFNET_INT8_OK) return status;
    if ((int64_t)l->out_h * l->out_w * l->out_c > ((int64_t)1 << 28)) FAIL("layer %d: output tensor too large", index);
    shapes[l->out_slot] = (shape_t){l->out_h, l->out_w, l->out_c, 1};
    if (l->flags & FLAG_POOL) *pooled = shapes[l->out_slot];
    if (conv) {
      if (l->k_pad > e->max_k_pad) e->max_k_pad = l->k_pad;
      if (l->n_pad > e->max_n_pad) e->max_n_pad = l->n_pad;
    } else if (l->out_w * l->in_c > e->max_row_acc) {
      e->max_row_acc = l->out_w * l->in_c;
    }
    if (l->in_c > e->max_channels) e->max_channels = l->in_c;
    if (l->out_c > e->max_channels) e->max_channels = l->out_c;
    return EFFNET_INT8_OK;
  }

  if (l->kind == KIND_SE) {
    l->in_c = read_i32(r);
    l->reduced = read_i32(r);
    l->se_in_scale = read_f32(r);
    l->pool_scale = read_f32(r);
    l->fc1_out_scale = read_f32(r);
    l->fc1_act_scale = read_f32(r);
    l->gate_scale = read_f32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (!pooled->set || pooled->c != l->in_c) FAIL("layer %d: squeeze-excitation of %d channels without a pooled depthwise output of that width", index, l->in_c);
    if (l->reduced < 1 || l->reduced > 16384) FAIL("layer %d: squeeze-excitation width %d out of range", index, l->reduced);
    if (!positive_normal(l->se_in_scale) || !positive_normal(l->pool_scale) || !positive_normal(l->fc1_out_scale) ||
        !positive_normal(l->fc1_act_scale) || !positive_normal(l->gate_scale)) {
      FAIL("layer %d: a squeeze-excitation scale is not a positive normal number", index);
    }
    l->in_h = pooled->h;
    l->in_w = pooled->w;
    l->fc1_weights = read_array(r, (size_t)l->reduced * l->in_c, 1, wb);
    l->fc1_scale = read_array(r, (size_t)l->reduced, 4, wb);
    l->fc1_bias = read_array(r, (size_t)l->reduced, 4, wb);
    const uint8_t *table = take(r, 256);
    if (table) memcpy(l->table, table, 256);
    l->fc2_weights = read_array(r, (size_t)l->reduced * l->in_c, 1, wb);
    if (l->fc2_weights) {
      int8_t *by_reduced = malloc((size_t)l->reduced * l->in_c);
      if (!by_reduced) {
        r->failed = 2;
      } else {
        for (int32_t c = 0; c < l->in_c; c++) {
          for (int32_t j = 0; j < l->reduced; j++) by_reduced[(size_t)j * l->in_c + c] = l->fc2_weights[(size_t)c * l->reduced + j];
        }
      }
      free(l->fc2_weights);
      l->fc2_weights = by_reduced;
    }
    l->fc2_scale = read_array(r, (size_t)l->in_c, 4, wb);
    l->fc2_bias = read_array(r, (size_t)l->in_c, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      l->fc2_out_scale = read_f32(r);
      l->gate_table = read_array(r, 256, 4, wb);
      if (!r->failed && !positive_normal(l->fc2_out_scale)) FAIL("layer %d: the gate input scale is not a positive normal number", index);
      for (int32_t i = 0; l->gate_table && i < 256; i++) {
        if (!isfinite(l->gate_table[i])) FAIL("layer %d: a non-finite gate table entry", index);
      }
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    for (int32_t i = 0; i < l->reduced; i++) {
      if (!isfinite(l->fc1_scale[i]) || !isfinite(l->fc1_bias[i])) FAIL("layer %d: a non-finite first-FC parameter", index);
    }
    for (int32_t i = 0; i < l->in_c; i++) {
      if (!isfinite(l->fc2_scale[i]) || !isfinite(l->fc2_bias[i])) FAIL("layer %d: a non-finite second-FC parameter", index);
    }
    *gate_channels = l->in_c;
    if (l->reduced > e->max_reduced) e->max_reduced = l->reduced;
    l->macs = 2 * (int64_t)l->in_c * l->reduced;
    return EFFNET_INT8_OK;
  }

  if (l->kind == KIND_HEAD) {
    l->in_slot = read_i32(r);
    l->in_c = read_i32(r);
    l->out_c = read_i32(r);
    l->head_in_scale = read_f32(r);
    l->head_pool_scale = read_f32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (l->in_slot < 0 || l->in_slot >= e->slot_count || !shapes[l->in_slot].set) FAIL("layer %d reads slot %d, which no layer wrote", index, l->in_slot);
    if (shapes[l->in_slot].c != l->in_c) FAIL("layer %d expects %d input channels, its input has %d", index, l->in_c, shapes[l->in_slot].c);
    if (l->out_c != e->classes) FAIL("layer %d produces %d logits, the header says %d classes", index, l->out_c, e->classes);
    if (index != e->layer_count - 1) FAIL("layer %d: the classifier head must be the last layer", index);
    if (!positive_normal(l->head_in_scale) || !positive_normal(l->head_pool_scale)) FAIL("layer %d: a head scale is not a positive normal number", index);
    l->in_h = shapes[l->in_slot].h;
    l->in_w = shapes[l->in_slot].w;
    l->weights = read_array(r, (size_t)l->out_c * l->in_c, 1, wb);
    l->head_scale = read_array(r, (size_t)l->out_c, 4, wb);
    l->head_bias = read_array(r, (size_t)l->out_c, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      l->head_table = read_array(r, 256, 4, wb);
      for (int32_t i = 0; l->head_table && i < 256; i++) {
        if (!isfinite(l->head_table[i])) FAIL("layer %d: a non-finite activation table entry", index);
      }
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    for (int32_t i = 0; i < l->out_c; i++) {
      if (!isfinite(l->head_scale[i]) || !isfinite(l->head_bias[i])) FAIL("layer %d: a non-finite classifier parameter", index);
    }
    if (l->in_c > e->max_channels) e->max_channels = l->in_c;
    l->macs = (int64_t)l->in_c * l->out_c;
    return EFFNET_INT8_OK;
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
      e->last_slot = l->out_slot;
      e->output_count = (size_t)l->out_h * l->out_w * l->out_c;
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
