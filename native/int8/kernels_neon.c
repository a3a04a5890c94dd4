/*
 * aarch64 NEON path (the Jetson's Cortex-A78AE and other ARM boards). int16 multiply-accumulate by lane into int32:
 * exact, so the results equal the scalar path's bit for bit. NEON is part of every aarch64 CPU, so no runtime check.
 */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "internal.h"

static size_t neon_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return sizeof(int16_t) * (size_t)layer->conv.n_pad * layer->conv.k_pad;
  if (layer->kind == KIND_DEPTHWISE) return sizeof(int16_t) * (size_t)layer->conv.kh * layer->conv.kw * round_up(layer->conv.in_c, 8);
  return 0;
}

/* conv: [n_pad/8][k_pad][8 channels]; depthwise: [tap][c8]. */
static void neon_pack_weights(layer_t *layer) {
  if (layer->kind == KIND_CONV) {
    const int32_t k_pad = layer->conv.k_pad;
    for (int32_t o = 0; o < layer->conv.n_pad; o++) {
      for (int32_t k = 0; k < k_pad; k++) {
        layer->conv.packed[((size_t)(o / 8) * k_pad + k) * 8 + o % 8] = o < layer->conv.out_c ? layer->conv.weights[(size_t)o * k_pad + k] : 0;
      }
    }
  } else if (layer->kind == KIND_DEPTHWISE) {
    const int32_t c_count = layer->conv.in_c, c_pad = round_up(c_count, 8), taps = layer->conv.kh * layer->conv.kw;
    for (int32_t t = 0; t < taps; t++) {
      for (int32_t c = 0; c < c_pad; c++) {
        layer->conv.packed[(size_t)t * c_pad + c] = c < c_count ? layer->conv.weights[(size_t)t * c_count + c] : 0;
      }
    }
  }
}

static inline void store_int8x8(int8_t *out, int32x4_t lo, int32x4_t hi) {
  vst1_s8(out, vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
}

/* gated_value() on 4 lanes: the same float operations in the same order, then round-to-nearest-even. */
static inline int32x4_t gated4(int16x4_t x, int32x4_t in_zero, int32x4_t out_zero, const float *gate, float32x4_t in_scale, float32x4_t out_scale) {
  float32x4_t v = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vmovl_s16(x), in_zero)), in_scale);
  v = vdivq_f32(vmulq_f32(v, vld1q_f32(gate)), out_scale);
  v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-256.0f)), vdupq_n_f32(256.0f));
  return vaddq_s32(vcvtnq_s32_f32(v), out_zero);
}

static void neon_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst,
                           const float *gate, const gated_input_t *g) {
  const float32x4_t vin = vdupq_n_f32(g->in_scale), vout = vdupq_n_f32(g->out_scale);
  const int32x4_t vzero = vdupq_n_s32(g->in_zero), vout_zero = vdupq_n_s32(g->out_zero);
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    int16_t *out = dst + (size_t)r * k_pad;
    int32_t c = 0;
    for (; c + 8 <= k; c += 8) {
      int16x8_t x = vmovl_s8(vld1_s8(row + c));
      if (gate) {
        const int32x4_t lo = gated4(vget_low_s16(x), vzero, vout_zero, gate + c, vin, vout);
        const int32x4_t hi = gated4(vget_high_s16(x), vzero, vout_zero, gate + c + 4, vin, vout);
        x = vmovl_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
      }
      vst1q_s16(out + c, x);
    }
    for (; c < k; c++) out[c] = gate ? gated_value(row[c], g, gate[c]) : row[c];
    for (; c < k_pad; c++) out[c] = 0;
  }
}

#define MAC_LANE(lane)                                                   \
  do {                                                                   \
    const int16x8_t w = vld1q_s16(panel + (size_t)(k + lane) * 8);       \
    c0l = vmlal_lane_s16(c0l, vget_low_s16(w), x0, lane);                \
    c0h = vmlal_high_lane_s16(c0h, w, x0, lane);                         \
    c1l = vmlal_lane_s16(c1l, vget_low_s16(w), x1, lane);                \
    c1h = vmlal_high_lane_s16(c1h, w, x1, lane);                         \
    c2l = vmlal_lane_s16(c2l, vget_low_s16(w), x2, lane);                \
    c2h = vmlal_high_lane_s16(c2h, w, x2, lane);                         \
    c3l = vmlal_lane_s16(c3l, vget_low_s16(w), x3, lane);                \
    c3h = vmlal_high_lane_s16(c3h, w, x3, lane);                         \
  } while (0)

/* 4 rows × 8 channels per tile. */
static void neon_gemm(const layer_t *layer, const int16_t *a, int32_t rows, int32_t *acc) {
  const int32_t k_pad = layer->conv.k_pad, n_pad = layer->conv.n_pad;
  for (int32_t nb = 0; nb < n_pad / 8; nb++) {
    const int16_t *panel = layer->conv.packed + (size_t)nb * k_pad * 8;
    for (int32_t r = 0; r < rows; r += 4) {
      const int16_t *a0 = a + (size_t)r * k_pad, *a1 = a0 + k_pad, *a2 = a1 + k_pad, *a3 = a2 + k_pad;
      int32x4_t c0l = vdupq_n_s32(0), c0h = c0l, c1l = c0l, c1h = c0l, c2l = c0l, c2h = c0l, c3l = c0l, c3h = c0l;
      for (int32_t k = 0; k < k_pad; k += 4) {
        const int16x4_t x0 = vld1_s16(a0 + k), x1 = vld1_s16(a1 + k), x2 = vld1_s16(a2 + k), x3 = vld1_s16(a3 + k);
        MAC_LANE(0);
        MAC_LANE(1);
        MAC_LANE(2);
        MAC_LANE(3);
      }
      int32_t *out = acc + (size_t)r * n_pad + (size_t)nb * 8;
      vst1q_s32(out, c0l);
      vst1q_s32(out + 4, c0h);
      vst1q_s32(out + n_pad, c1l);
      vst1q_s32(out + n_pad + 4, c1h);
      vst1q_s32(out + 2 * (size_t)n_pad, c2l);
      vst1q_s32(out + 2 * (size_t)n_pad + 4, c2h);
      vst1q_s32(out + 3 * (size_t)n_pad, c3l);
      vst1q_s32(out + 3 * (size_t)n_pad + 4, c3h);
    }
  }
}

/* requantize() on 4 lanes: exact 64-bit products and rounding, then floor shifts (see the AVX2 path). */
static inline int32x4_t requantize4(int32x4_t v, int32x4_t mult, int32x4_t shift) {
  const int64x2_t one = vdupq_n_s64(1), base = vdupq_n_s64(31);
  const int64x2_t lo = vaddq_s64(vmull_s32(vget_low_s32(v), vget_low_s32(mult)), vshlq_s64(one, vaddq_s64(vmovl_s32(vget_low_s32(shift)), base)));
  const int64x2_t hi = vaddq_s64(vmull_high_s32(v, mult), vshlq_s64(one, vaddq_s64(vmovl_high_s32(shift), base)));
  const int32x4_t high = vcombine_s32(vshrn_n_s64(lo, 32), vshrn_n_s64(hi, 32));
  return vshlq_s32(high, vnegq_s32(shift));
}

static void neon_requant(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
                         const int32_t *mult, const int32_t *shift, int8_t *out) {
  for (int32_t r = 0; r < rows; r++) {
    const int32_t *in = acc + (size_t)r * acc_stride;
    int8_t *dst = out + (size_t)r * n;
    int32_t c = 0;
    for (; c + 8 <= n; c += 8) {
      const int32x4_t lo = requantize4(vaddq_s32(vld1q_s32(in + c), vld1q_s32(bias + c)), vld1q_s32(mult + c), vld1q_s32(shift + c));
      const int32x4_t hi = requantize4(vaddq_s32(vld1q_s32(in + c + 4), vld1q_s32(bias + c + 4)), vld1q_s32(mult + c + 4), vld1q_s32(shift + c + 4));
      store_int8x8(dst + c, lo, hi);
    }
    for (; c < n; c++) dst[c] = clamp_int8(requantize(in[c] + bias[c], mult[c], shift[c]));
  }
}

static void neon_depthwise_row(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) {
  const int32_t c_count = layer->conv.in_c, c_pad = round_up(c_count, 8), kh = layer->conv.kh, kw = layer->conv.kw;
  const int32_t full = c_count / 8 * 8;
  for (int32_t ox = 0; ox < layer->conv.out_w; ox++) {
    int32_t *out = acc + (size_t)ox * c_count;
    for (int32_t c = 0; c < full; c += 8) {
      int32x4_t lo = vdupq_n_s32(0), hi = lo;
      for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = oy * layer->conv.stride - layer->conv.pad_top + ky;
        if (iy < 0 || iy >= layer->conv.in_h) continue;
        for (int32_t kx = 0; kx < kw; kx++) {
          const int32_t ix = ox * layer->conv.stride - layer->conv.pad_left + kx;
          if (ix < 0 || ix >= layer->conv.in_w) continue;
          const int16x8_t x = vmovl_s8(vld1_s8(in + ((size_t)iy * layer->conv.in_w + ix) * c_count + c));
          const int16x8_t w = vld1q_s16(layer->conv.packed + (size_t)(ky * kw + kx) * c_pad + c);
          lo = vmlal_s16(lo, vget_low_s16(x), vget_low_s16(w));
          hi = vmlal_high_s16(hi, x, w);
        }
      }
      vst1q_s32(out + c, lo);
      vst1q_s32(out + c + 4, hi);
    }
    for (int32_t c = full; c < c_count; c++) out[c] = depthwise_value(layer, in, oy, ox, c);
  }
}

static inline int32x4_t residual4(int16x4_t a, int16x4_t b, float32x4_t vm, float32x4_t vs, float32x4_t vo) {
  float32x4_t v = vaddq_f32(vmulq_f32(vcvtq_f32_s32(vmovl_s16(a)), vm), vmulq_f32(vcvtq_f32_s32(vmovl_s16(b)), vs));
  v = vdivq_f32(v, vo);
  v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-256.0f)), vdupq_n_f32(256.0f));
  return vcvtnq_s32_f32(v);
}

static void neon_residual(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale) {
  const float32x4_t vm = vdupq_n_f32(main_scale), vs = vdupq_n_f32(skip_scale), vo = vdupq_n_f32(out_scale);
  int32_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const int16x8_t a = vmovl_s8(vld1_s8(main + i)), b = vmovl_s8(vld1_s8(skip + i));
    store_int8x8(main + i, residual4(vget_low_s16(a), vget_low_s16(b), vm, vs, vo), residual4(vget_high_s16(a), vget_high_s16(b), vm, vs, vo));
  }
  for (; i < count; i++) main[i] = residual_value(main[i], skip[i], main_scale, skip_scale, out_scale);
}

/* quantize_value() on 4 lanes: the same division, NaN to 0, clamp, round to nearest even. */
static void neon_quantize(const float *src, size_t count, float scale, int8_t *dst) {
  const float32x4_t vscale = vdupq_n_f32(scale), low = vdupq_n_f32(-256.0f), high = vdupq_n_f32(256.0f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    int32x4_t q[2];
    for (int half = 0; half < 2; half++) {
      float32x4_t v = vdivq_f32(vld1q_f32(src + i + 4 * half), vscale);
      v = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v)));
      q[half] = vcvtnq_s32_f32(vminq_f32(vmaxq_f32(v, low), high));
    }
    store_int8x8(dst + i, q[0], q[1]);
  }
  effnet_int8_quantize_scalar(src + i, count - i, scale, dst + i);
}

/* 256-entry lookup as four 64-byte tbl lookups: an index outside a quarter's 0..63 (after the wrapping subtraction)
 * reads 0, so OR-ing the four quarters gives the entry. */
static void neon_apply_table(int8_t *data, size_t count, const int8_t *table) {
  const uint8x16x4_t q0 = vld1q_u8_x4((const uint8_t *)table), q1 = vld1q_u8_x4((const uint8_t *)table + 64);
  const uint8x16x4_t q2 = vld1q_u8_x4((const uint8_t *)table + 128), q3 = vld1q_u8_x4((const uint8_t *)table + 192);
  const uint8x16_t step = vdupq_n_u8(64);
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const uint8x16_t idx = vld1q_u8((const uint8_t *)data + i);
    const uint8x16_t i1 = vsubq_u8(idx, step), i2 = vsubq_u8(i1, step), i3 = vsubq_u8(i2, step);
    const uint8x16_t r = vorrq_u8(vorrq_u8(vqtbl4q_u8(q0, idx), vqtbl4q_u8(q1, i1)), vorrq_u8(vqtbl4q_u8(q2, i2), vqtbl4q_u8(q3, i3)));
    vst1q_u8((uint8_t *)data + i, r);
  }
  effnet_int8_apply_table_scalar(data + i, count - i, table);
}

const kernels_t effnet_int8_neon_kernels = {
  .isa = EFFNET_INT8_ISA_NEON, .packed_size = neon_packed_size, .pack_weights = neon_pack_weights,
  .pack_rows = neon_pack_rows, .gemm = neon_gemm, .requant = neon_requant, .depthwise_row = neon_depthwise_row,
  .classifier = effnet_int8_classifier_scalar, .quantize = neon_quantize, .apply_table = neon_apply_table,
  .residual = neon_residual,
};
#endif
