/* Internal types shared by the loader, the scheduler and the per-ISA kernels. */
#ifndef EFFNET_INT8_INTERNAL_H
#define EFFNET_INT8_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "effnet_int8.h"

enum { KIND_CONV = 1, KIND_DEPTHWISE = 2, KIND_SE = 3, KIND_HEAD = 4 };
enum { FLAG_ACTIVATION = 1, FLAG_SE_INPUT = 2, FLAG_RESIDUAL = 4, FLAG_POOL = 8 };

/* GEMM rows are packed and computed in chunks of this many output pixels (a multiple of the 4-row micro tile). */
#define CHUNK_ROWS 32
/* Most arena slots (tensors alive at once) an engine file may declare. */
#define MAX_SLOTS 64
#define MAX_THREADS 64
/* The widest channel block a fused depthwise kernel reads past a pixel's last channel (padding slack, pool size). */
#define MAX_DEPTHWISE_BLOCK 64

/* FLAG_SE_INPUT: the conv reads its input as q(dq(x) · gate[c] / out scale). */
typedef struct {
  float in_scale, out_scale;
  /* Zero points as stored int8 values: of the gated tensor x (the depthwise output) and of the gated product. */
  int32_t in_zero, out_zero;
} gated_input_t;

/* FLAG_RESIDUAL: after the requantize, q((dq(main) + dq(skip)) / out scale), the skip tensor read from `slot`. */
typedef struct {
  int32_t slot;
  float main_scale, skip_scale, out_scale;
} residual_t;

/* KIND_CONV and KIND_DEPTHWISE (one filter per channel: out_c = in_c): everything the kernels read. */
typedef struct {
  int32_t in_slot, out_slot;
  int32_t in_c, out_c, kh, kw, stride, pad_top, pad_left, pad_bottom, pad_right;
  int32_t in_h, in_w, out_h, out_w;
  /* The stored value that stands for 0 in the input, which padding reads: 0 for a symmetric int8 tensor; z - 128 for
   * a uint8 tensor with zero point z (uint8 q is stored as the int8 q - 128). The bias already holds -in_zero · Σw. */
  int32_t in_zero;
  /* conv: K = kh*kw*in_c, padded to a multiple of 4; n_pad = out_c padded to a multiple of 8. */
  int32_t k, k_pad, n_pad;
  int8_t *weights; /* conv [out_c][k_pad] (zero padded); depthwise [kh*kw][c] */
  int16_t *packed; /* the ISA's layout of the same weights */
  int32_t *bias, *mult, *shift;
  int32_t float_requant; /* set by a path's pack_weights where requant_exact_in_float() holds and the path uses it */
  int8_t table[256];
  gated_input_t gate;  /* conv only */
  residual_t residual; /* conv only */
} conv_layer_t;

/* KIND_SE: the squeeze-excitation vector math on the pooled output of the depthwise before it. */
typedef struct {
  int32_t in_c, reduced, in_h, in_w;
  float in_scale, pool_scale, fc1_out_scale, fc1_act_scale, gate_scale;
  /* Zero points (stored int8) of the pooled tensor, of FC1's SiLU output and of the gate (where no table holds it). */
  int32_t in_zero, fc1_act_zero, gate_zero;
  int8_t *fc1_weights; /* [reduced][c] */
  int8_t *fc2_weights; /* [reduced][c] after loading (the file's [c][reduced], transposed so FC2 runs along c) */
  float *fc1_scale, *fc1_bias, *fc2_scale, *fc2_bias;
  int8_t fc1_table[256]; /* the FC1 output's SiLU */
  float fc2_out_scale, *gate_table; /* the gate as a table of the quantized FC2 output (when the graph has it) */
} se_layer_t;

/* KIND_HEAD: global average pool and classifier. */
typedef struct {
  int32_t in_slot, in_c, classes, in_h, in_w;
  float in_scale, pool_scale;
  int8_t *weights; /* [classes][c] */
  float *scale, *bias, *table; /* table: the activation's float outputs, pooled unquantized (FLAG_ACTIVATION) */
} head_layer_t;

/* One layer: what every kind has, then its kind's own fields. */
typedef struct {
  int32_t kind, block, flags;
  int64_t macs;
  double total_ns;
  union {
    conv_layer_t conv; /* KIND_CONV, KIND_DEPTHWISE */
    se_layer_t se;
    head_layer_t head;
  };
} layer_t;

static inline int32_t round_up(int32_t value, int32_t multiple) { return (value + multiple - 1) / multiple * multiple; }

/* A conv whose input pixels fit one 4-byte group: each pixel is one vpdpbusd quad of a tap, no patches needed. */
static inline int pixel_quad_conv(const layer_t *l) { return l->kind == KIND_CONV && l->conv.in_c <= 4 && (l->conv.kh > 1 || l->conv.kw > 1); }

/* Σ of a conv output channel's or a depthwise channel's int8 weights (the unsigned inputs' offset is 128 times it). */
static inline int32_t weight_sum(const layer_t *l, int32_t index) {
  int32_t sum = 0;
  if (l->kind == KIND_DEPTHWISE) {
    for (int32_t t = 0; t < l->conv.kh * l->conv.kw; t++) sum += l->conv.weights[(size_t)t * l->conv.in_c + index];
  } else {
    for (int32_t k = 0; k < l->conv.k_pad; k++) sum += l->conv.weights[(size_t)index * l->conv.k_pad + k];
  }
  return sum;
}

/*
 * Whether float32 computes requantize() exactly for every accumulator the layer can produce. Each multiplier a float32
 * mantissa (its low 7 bits zero, as the lowering writes them) makes the scale mult · 2^-(32 + shift) a float32; every
 * |acc| ≤ |bias| + 128 · Σ|w| below 2^24 makes the accumulator one too. Then fma(acc, scale, 0.5) rounded toward −∞
 * and converted rounding toward −∞ is requantize()'s floor: rounding the exact sum down never passes below its floor,
 * an integer a float32 holds. One fma and two conversions instead of the 64-bit products.
 */
static inline int requant_exact_in_float(const layer_t *l) {
  const int depthwise = l->kind == KIND_DEPTHWISE;
  const int32_t channels = depthwise ? l->conv.in_c : l->conv.out_c, depth = depthwise ? l->conv.kh * l->conv.kw : l->conv.k_pad;
  for (int32_t c = 0; c < channels; c++) {
    if (l->conv.mult[c] % 128 != 0) return 0;
    int64_t bound = l->conv.bias[c] < 0 ? -(int64_t)l->conv.bias[c] : l->conv.bias[c];
    for (int32_t k = 0; k < depth; k++) {
      const int32_t w = depthwise ? l->conv.weights[(size_t)k * l->conv.in_c + c] : l->conv.weights[(size_t)c * l->conv.k_pad + k];
      bound += 128 * (int64_t)(w < 0 ? -w : w);
    }
    if (bound >= (int64_t)1 << 24) return 0;
  }
  return 1;
}

/* Portable loops (pool sums, the portable classifier, padding) get AVX-512 and AVX2 clones picked at load time on x86;
 * they are integer or per-channel float sums, so every clone computes the same values. */
#if defined(__x86_64__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CLONES
#endif

typedef struct kernels kernels_t;

/* Per-ISA kernels. All produce exactly the integers the scalar versions produce. */
struct kernels {
  int32_t isa;
  /* Re-lays `layer->conv.weights` into `layer->conv.packed` (allocated by the caller with packed_size()). */
  size_t (*packed_size)(const layer_t *layer);
  void (*pack_weights)(layer_t *layer);
  /*
   * int8 rows [rows][k] → int16 rows [rows][k_pad]; with a gate (the dequantized SE gate per channel), each value
   * becomes gated_value(x, g, gate[c]), the Q/DQ graph's float Mul, rounded identically on every path.
   */
  void (*pack_rows)(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst, const float *gate,
                    const gated_input_t *g);
  /* acc[rows][n_pad] = A[rows][k_pad] · Wᵀ; rows is a multiple of 4. NULL where gemm_requant is given. */
  void (*gemm)(const layer_t *layer, const int16_t *a, int32_t rows, int32_t *acc);
  /*
   * Optional: gemm and requant in one pass, the int32 accumulators never leaving registers, for the 8-channel blocks
   * [block_begin, block_end) (block_begin even); writes int8 out[r][c] for r < valid_rows and those channels below
   * out_c. NULL: the engine calls gemm, then requant.
   */
  void (*gemm_requant)(const layer_t *layer, const int16_t *a, int32_t rows, int32_t valid_rows, int32_t block_begin,
                       int32_t block_end, int8_t *out);
  /* out[r][c] = clamp(requant(acc[r][c] + bias[c])) for c < n; acc rows have stride acc_stride. */
  void (*requant)(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *out);
  /* One output row of a depthwise conv: acc[out_w][c]. */
  void (*depthwise_row)(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc);
  /*
   * Optional: one depthwise output row with requantize, the activation table and the SE pool fused, reading its
   * window of the input (the first of its kh padded rows, biased to unsigned: x + 128, padding 128; see pad_rows),
   * for the blocks of depthwise_block channels [block_begin, block_end); adds the row's int8 outputs to pool (whole
   * blocks) when the layer has FLAG_POOL. NULL: depthwise_row, requant, apply_table, then the pool.
   */
  void (*depthwise_fused)(const layer_t *layer, const uint8_t *window, int32_t block_begin, int32_t block_end, int8_t *out,
                          int32_t *pool);
  int32_t depthwise_block; /* channels per depthwise_fused block (at most MAX_DEPTHWISE_BLOCK) */
  /*
   * Optional: one output row of a k×k conv on at most 4 input channels (pixel_quad_conv(): the stem), reading its
   * window of the input (the first of its kh padded rows; see pad_rows), 4 bytes per pixel, biased to unsigned, with
   * requantize fused; out[out_w][out_c]. NULL: the patches are gathered into GEMM rows.
   */
  void (*pixel_quad_conv)(const layer_t *layer, const uint8_t *window, int8_t *out);
  /* 1: gemm_requant and pixel_quad_conv apply the conv's activation table (FLAG_ACTIVATION) before they store. */
  int32_t conv_applies_table;
  /* dots[o - begin] = Σ_c pooled[c] · weights[o][c] for rows [begin, end) (the classifier, the SE block's FC1). */
  void (*classifier)(const int8_t *pooled, const int8_t *weights, int32_t in_c, int32_t begin, int32_t end, int32_t *dots);
  /* dst[i] = quantize_value(src[i], scale): the model input's QuantizeLinear. */
  void (*quantize)(const float *src, size_t count, float scale, int8_t *dst);
  /* data[i] = table[(uint8) data[i]], in place (the SiLU tables). */
  void (*apply_table)(int8_t *data, size_t count, const int8_t *table);
  /* main[i] = residual_value(main[i], skip[i], …), in place. */
  void (*residual)(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale);
};

extern const kernels_t effnet_int8_scalar_kernels;
/* The portable table lookup, for paths without a vector byte permute. */
void effnet_int8_apply_table_scalar(int8_t *data, size_t count, const int8_t *table);
void effnet_int8_quantize_scalar(const float *src, size_t count, float scale, int8_t *dst);
/* The portable classifier, for paths without a dot-product kernel of their own. */
void effnet_int8_classifier_scalar(const int8_t *pooled, const int8_t *weights, int32_t in_c, int32_t begin, int32_t end, int32_t *dots);
#if defined(__x86_64__)
extern const kernels_t effnet_int8_avx2_kernels;
extern const kernels_t effnet_int8_avx_vnni_kernels;
extern const kernels_t effnet_int8_avx512_kernels;
#endif
#if defined(__aarch64__)
extern const kernels_t effnet_int8_neon_kernels;
#endif

/* The integer semantics (README.md): one definition each, used by every path's remainders. */
static inline int8_t clamp_int8(int32_t v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }

/* One rounding: (acc * mult + 2^(31 + shift)) >> (32 + shift), mult in [2^30, 2^31), shift in [0, 31]. */
static inline int32_t requantize(int32_t acc, int32_t mult, int32_t shift) {
  return (int32_t)(((int64_t)acc * mult + ((int64_t)1 << (31 + shift))) >> (32 + shift));
}

/* QuantizeLinear in float32: round half to even after the division, saturate; NaN becomes 0 on every path. */
/* The same with a zero point (the stored int8 value of 0; NaN quantizes to it). */
static inline int8_t quantize_value_around(float value, float scale, int32_t zero) {
  float v = value / scale;
  if (v != v) return (int8_t)zero;
  v = v < -256.0f ? -256.0f : v > 256.0f ? 256.0f : v;
  return clamp_int8((int32_t)__builtin_nearbyintf(v) + zero);
}

static inline int8_t quantize_value(float value, float scale) { return quantize_value_around(value, scale, 0); }

/* One depthwise output value (the SIMD paths use it for the channels after their last full vector). */
static inline int32_t depthwise_value(const layer_t *l, const int8_t *in, int32_t oy, int32_t ox, int32_t c) {
  int32_t sum = 0;
  for (int32_t ky = 0; ky < l->conv.kh; ky++) {
    const int32_t iy = oy * l->conv.stride - l->conv.pad_top + ky;
    if (iy < 0 || iy >= l->conv.in_h) continue;
    for (int32_t kx = 0; kx < l->conv.kw; kx++) {
      const int32_t ix = ox * l->conv.stride - l->conv.pad_left + kx;
      if (ix < 0 || ix >= l->conv.in_w) continue;
      sum += in[((size_t)iy * l->conv.in_w + ix) * l->conv.in_c + c] * l->conv.weights[(size_t)(ky * l->conv.kw + kx) * l->conv.in_c + c];
    }
  }
  return sum;
}

/* QuantizeLinear(DequantizeLinear(x) · gate / out_scale) in float32, as the graph computes it, with the zero points;
 * clamped to ±256 first so every path's float→int conversion sees the same in-range value. */
static inline int16_t gated_value(int8_t x, const gated_input_t *g, float gate) {
  float v = (float)(x - g->in_zero) * g->in_scale * gate / g->out_scale;
  v = v < -256.0f ? -256.0f : v > 256.0f ? 256.0f : v;
  return clamp_int8((int32_t)__builtin_nearbyintf(v) + g->out_zero);
}

/* QuantizeLinear(DequantizeLinear(main) + DequantizeLinear(skip)) in float32, as the graph's residual Add. */
static inline int8_t residual_value(int8_t main, int8_t skip, float main_scale, float skip_scale, float out_scale) {
  float v = ((float)main * main_scale + (float)skip * skip_scale) / out_scale;
  v = v < -256.0f ? -256.0f : v > 256.0f ? 256.0f : v;
  return clamp_int8((int32_t)__builtin_nearbyintf(v));
}

#endif
