/*
 * What the x86 paths share (x86_common.c): the vpdpbusd weight layouts of the AVX-VNNI and AVX-512 paths, the AVX2 and
 * AVX-VNNI kernels the AVX-512 path reuses, and the AVX2 float helpers behind them. Neither kernel file depends on the
 * other; both depend on this one. Every function carries its own target attribute (no -m flags), so the library still
 * loads on any x86-64 CPU and the dispatcher picks a path by cpuid.
 */
#ifndef EFFNET_INT8_X86_COMMON_H
#define EFFNET_INT8_X86_COMMON_H
#if defined(__x86_64__)
#include <immintrin.h>

#include "internal.h"

#define AVX2 __attribute__((target("avx2")))
#define VNNI __attribute__((target("avx2,avxvnni")))

/*
 * The vpdpbusd weight layouts the AVX-VNNI (256-bit vectors: lanes = 2) and AVX-512 (512-bit: lanes = 4) paths share
 * (x86_common.c); a vector holds 4 · lanes int32 accumulators, each the sum of four byte products.
 * - conv: [output channel / (4 · lanes)][conv_quad_depth() / 4][4 · lanes channels][4 k], zero past out_c. A
 *   pixel-quad conv's k runs over (tap, input channel), each tap's channels filling one 4-byte group.
 * - depthwise: per group of four taps and block of 16 · lanes channels, four vectors in the order vpunpck{l,h}bw +
 *   vpunpck{l,h}wd leave the inputs: element e of vector i is channel dw_quad_channel(), four tap weights; zero past
 *   the last tap and channel.
 * Each path puts its requantization constants after them (conv_quad_bytes(), dw_quad_bytes(); multiples of 64).
 */
static inline int32_t conv_quad_depth(const layer_t *l) { return pixel_quad_conv(l) ? l->conv.kh * l->conv.kw * 4 : l->conv.k_pad; }
static inline size_t conv_quad_bytes(const layer_t *l, int32_t lanes) {
  return ((size_t)round_up(l->conv.n_pad, 4 * lanes) * conv_quad_depth(l) + 63) & ~(size_t)63;
}
static inline int32_t dw_quad_blocks(const layer_t *l, int32_t lanes) { return round_up(l->conv.in_c, 16 * lanes) / (16 * lanes); }
static inline size_t dw_quad_bytes(const layer_t *l, int32_t lanes) {
  return ((size_t)l->conv.kh * l->conv.kw + 3) / 4 * (size_t)dw_quad_blocks(l, lanes) * 64 * lanes;
}
/* Element e of vector i in depthwise block b: 128-bit lane e / 4 holds channels 16 · lane + 4i..+3. */
static inline int32_t dw_quad_channel(int32_t lanes, int32_t b, int32_t i, int32_t e) {
  return b * 16 * lanes + (e / 4) * 16 + i * 4 + e % 4;
}
void effnet_int8_pack_conv_quads(const layer_t *layer, int32_t lanes, int8_t *packed);
void effnet_int8_pack_depthwise_quads(const layer_t *layer, int32_t lanes, int8_t *quads);

/*
 * One lane of a path's requantize() constants (requant8_t, requant16_t): the bias less the unsigned inputs' offset
 * (128 · Σw), the multiplier (and, for vpmuldq, the odd lanes' multipliers in the even positions), 2^(31 + shift) per
 * 64-bit lane pair, the shift. c < 0: a channel past the last, whose outputs are never stored.
 */
typedef struct {
  int32_t *bias, *mult, *mult_odd, *shift;
  int64_t *round_even, *round_odd;
} requant_lanes_t;
void effnet_int8_set_requant_lane(requant_lanes_t k, int32_t e, const layer_t *layer, int32_t c);

/* The AVX2 and AVX-VNNI kernels the AVX-512 path shares with them. */
void effnet_int8_vnni_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst, const float *gate,
                                const gated_input_t *g);
void effnet_int8_avx2_quantize(const float *src, size_t count, float scale, int8_t *dst);
void effnet_int8_avx2_requant(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift, int8_t *out);
void effnet_int8_avx2_residual(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale);

/*
 * v / d where only its rounding to an integer (after the ±256 clamp, then to int8) is used, without a division:
 * z = v · fl(1/d) is within 2^-14 of the float32 quotient wherever |v / d| ≤ 256 (two roundings of relative 2^-24
 * each, and the quotient's own half ulp), so z rounds to the quotient's integer unless it lies within 2^-11 of a
 * half. Only then, about one vector in 250, is the division done. Outside ±256 both saturate alike; NaN and ±∞ stay.
 */
AVX2 static inline __m256 quotient8(__m256 v, __m256 divisor, __m256 reciprocal) {
  const __m256 z = _mm256_mul_ps(v, reciprocal);
  const __m256 distance = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(z, _mm256_round_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  if (_mm256_movemask_ps(_mm256_cmp_ps(distance, _mm256_set1_ps(0.5f - 1.0f / 2048), _CMP_GT_OQ))) return _mm256_div_ps(v, divisor);
  return z;
}

/* gated_value() on 8 lanes: the same float operations in the same order, then round-to-nearest-even. */
AVX2 static inline __m256i gated8(__m128i bytes, __m256i in_zero, __m256i out_zero, const float *gate, __m256 in_scale, __m256 out_scale, __m256 reciprocal) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepi8_epi32(bytes), in_zero)), in_scale);
  v = quotient8(_mm256_mul_ps(v, _mm256_loadu_ps(gate)), out_scale, reciprocal);
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-256.0f)), _mm256_set1_ps(256.0f));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), out_zero);
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
}

#endif
#endif
