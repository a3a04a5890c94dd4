/*
 * x86-64 AVX-512 path (F, BW, VL, VNNI, VBMI): the AVX-VNNI scheme of kernels_avx_vnni.c (activations biased to
 * unsigned, vpdpbusd, the offset 128 · Σw folded into the bias) on 512-bit vectors: 16 output channels per
 * accumulator in the convs, 64 channels per block in the depthwise, and the activation tables by vpermi2b. Where the
 * AVX-512 units are 512 bits wide (Zen 5, Intel server cores) that is twice the multiply-adds per instruction.
 * Row packing, input quantization and the residual add are the AVX2 path's (x86_common.c).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "x86_common.h"

#define AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))

/* requantize() constants for 16 lanes, set when the weights are packed (see requant_lanes_t in x86_common.h). */
typedef struct {
  int32_t bias[16], mult[16], mult_odd[16], shift[16];
  int64_t round_even[8], round_odd[8];
  float scale[16]; /* mult · 2^-(32 + shift), for layers whose requantize is exact in float32 */
} requant16_t;

static void requant16_set(requant16_t *k, int32_t e, const layer_t *layer, int32_t c) {
  effnet_int8_set_requant_lane((requant_lanes_t){k->bias, k->mult, k->mult_odd, k->shift, k->round_even, k->round_odd}, e, layer, c);
  k->scale[e] = ldexpf((float)k->mult[e], -(32 + k->shift[e]));
}

/*
 * requantize() on 16 lanes whose sums already hold the bias (every kernel here starts its sums from it, an add a
 * vector fewer; int32 adds wrap alike in either order): the exact 64-bit products of the even and the odd lanes, one rounding each.
 */
AVX512 static inline __m512i requantize16_biased(__m512i v, const requant16_t *k) {
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(v, _mm512_load_si512(k->mult)), _mm512_load_si512(k->round_even));
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), _mm512_load_si512(k->mult_odd)),
                                       _mm512_load_si512(k->round_odd));
  const __m512i high = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  return _mm512_srav_epi32(high, _mm512_load_si512(k->shift));
}
/* The same where requant_exact_in_float() holds for the layer (internal.h): three instructions instead of eight. */
#define FLOOR (_MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
AVX512 static inline __m512i requantize16_float(__m512i v, __m512 scale) {
  return _mm512_cvt_roundps_epi32(_mm512_fmadd_round_ps(_mm512_cvtepi32_ps(v), scale, _mm512_set1_ps(0.5f), FLOOR), FLOOR);
}
/* Either form: `in_float` is the layer's float_requant, constant across a loop, so the branch predicts. */
AVX512 static inline __m512i requantize16_biased_as(__m512i v, const requant16_t *k, int in_float) {
  return in_float ? requantize16_float(v, _mm512_load_ps(k->scale)) : requantize16_biased(v, k);
}

static inline int32_t quad_at(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* ---------- gated rows ---------- */

/*
 * gated_value() on 16 lanes: ((x - in_zero) · in_scale · gate) / out_scale rounded half to even, + out_zero, saturated.
 * First as one product, (x - in_zero) · h with h = in_scale · gate · (1 / out_scale) per channel: it differs from the
 * graph's three roundings and its division by at most 7 · 2^-24 of the quotient, under 2^-13 wherever |quotient| ≤ 256
 * (beyond, both saturate alike), so its rounded integer is the graph's unless it lies within 2^-11 of a half. Only
 * those vectors (about one in 60) take the graph's operations, the division included. Only the top needs clamping
 * before the conversion: below -2^31, and for NaN (min returns its second operand), it gives INT_MIN, which saturates
 * to -128 as gated_value's do.
 */
AVX512 static inline __m128i gated16(__m128i bytes, __m512i in_zero, __m512i out_zero, const float *gate, __m512 h, __m512 in_scale, __m512 out_scale) {
  const __m512 x = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepi8_epi32(bytes), in_zero));
  const __m512 top = _mm512_set1_ps(256.0f);
  const __m512 q = _mm512_min_ps(top, _mm512_mul_ps(x, h));
  __m512i n = _mm512_cvtps_epi32(q);
  const __m512 distance = _mm512_abs_ps(_mm512_sub_ps(q, _mm512_cvtepi32_ps(n)));
  if (_mm512_cmp_ps_mask(distance, _mm512_set1_ps(0.5f - 1.0f / 2048), _CMP_GT_OQ)) {
    const __m512 v = _mm512_mul_ps(_mm512_mul_ps(x, in_scale), _mm512_loadu_ps(gate));
    n = _mm512_cvtps_epi32(_mm512_min_ps(top, _mm512_div_ps(v, out_scale)));
  }
  return _mm512_cvtsepi32_epi8(_mm512_add_epi32(n, out_zero));
}

/*
 * Rows as unsigned bytes (x + 128), gated 16 channels at a time, 64 channels of every row before the next 64 so that
 * their four h vectors stay in registers; ungated rows are the AVX-VNNI path's copy.
 */
AVX512 static void avx512_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst_rows,
                                    const float *gate, const gated_input_t *g) {
  if (!gate) {
    effnet_int8_vnni_pack_rows(src, rows, k, k_pad, dst_rows, gate, g);
    return;
  }
  const __m512 vin = _mm512_set1_ps(g->in_scale), vout = _mm512_set1_ps(g->out_scale), vreciprocal = _mm512_set1_ps(1.0f / g->out_scale);
  const __m512i vzero = _mm512_set1_epi32(g->in_zero), vout_zero = _mm512_set1_epi32(g->out_zero);
  const __m128i flip = _mm_set1_epi8((char)0x80);
  const int32_t vectors_end = k / 16 * 16;
  for (int32_t c0 = 0; c0 < vectors_end; c0 += 64) {
    const int32_t count = vectors_end - c0 < 64 ? (vectors_end - c0) / 16 : 4;
    __m512 h[4];
    for (int32_t j = 0; j < count; j++) h[j] = _mm512_mul_ps(_mm512_mul_ps(vin, _mm512_loadu_ps(gate + c0 + 16 * j)), vreciprocal);
    for (int32_t r = 0; r < rows; r++) {
      const int8_t *row = src + (size_t)r * k + c0;
      uint8_t *out = (uint8_t *)dst_rows + (size_t)r * k_pad + c0;
      for (int32_t j = 0; j < count; j++) {
        const __m128i y = gated16(_mm_loadu_si128((const __m128i *)(row + 16 * j)), vzero, vout_zero, gate + c0 + 16 * j, h[j], vin, vout);
        _mm_storeu_si128((__m128i *)(out + 16 * j), _mm_xor_si128(y, flip));
      }
    }
  }
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    uint8_t *out = (uint8_t *)dst_rows + (size_t)r * k_pad;
    for (int32_t c = vectors_end; c < k; c++) out[c] = (uint8_t)((int8_t)gated_value(row[c], g, gate[c]) + 128);
    for (int32_t c = k; c < k_pad; c++) out[c] = 0;
  }
}

/* ---------- convs ---------- */

/* The 256-entry table on 64 bytes: two vpermi2b (128 entries each), blended on the index's top bit. */
AVX512 static inline __m512i table64(__m512i idx, __m512i t0, __m512i t1, __m512i t2, __m512i t3) {
  const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1), high = _mm512_permutex2var_epi8(t2, idx, t3);
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
}

/* The quads for 16 channels per vector (x86_common.h), then one requant16_t per 16-channel group. */
static int32_t conv_groups(const layer_t *layer) { return (layer->conv.n_pad + 15) / 16; }
static const requant16_t *conv_requant_of(const layer_t *layer) {
  return (const requant16_t *)((const int8_t *)layer->conv.packed + conv_quad_bytes(layer, 4));
}

/* A conv's activation table in four registers (table64), loaded once a call; `on` is 0 for a layer without one. */
typedef struct {
  int on;
  __m512i t[4];
} conv_table_t;

AVX512 static inline conv_table_t conv_table_of(const layer_t *layer) {
  conv_table_t table = {(layer->flags & FLAG_ACTIVATION) != 0, {_mm512_setzero_si512()}};
  for (int32_t i = 0; table.on && i < 4; i++) table.t[i] = _mm512_loadu_si512(layer->conv.table + 64 * i);
  return table;
}

/*
 * The byte orders the saturating packs leave, undone by one vpermb. packs_epi32 then packs_epi16 work within 128-bit
 * lanes: lane L of packs_epi16(packs_epi32(a, b), packs_epi32(c, d)) holds a, b, c and d's int32 lanes 4L..4L+3 as
 * bytes, in that order. Saturating to int16 and then to int8 is saturating to int8 (vpmovsdb), in fewer instructions.
 */
#define ORDER_ROW(BYTE, d) BYTE(d), BYTE(d + 1), BYTE(d + 2), BYTE(d + 3)
#define ORDER_TABLE(BYTE)                                                                                                \
  {ORDER_ROW(BYTE, 0),  ORDER_ROW(BYTE, 4),  ORDER_ROW(BYTE, 8),  ORDER_ROW(BYTE, 12), ORDER_ROW(BYTE, 16), ORDER_ROW(BYTE, 20), \
   ORDER_ROW(BYTE, 24), ORDER_ROW(BYTE, 28), ORDER_ROW(BYTE, 32), ORDER_ROW(BYTE, 36), ORDER_ROW(BYTE, 40), ORDER_ROW(BYTE, 44), \
   ORDER_ROW(BYTE, 48), ORDER_ROW(BYTE, 52), ORDER_ROW(BYTE, 56), ORDER_ROW(BYTE, 60)}
/* Rows 0 and 1 of two groups (a, b: row 0; c, d: row 1) → row 0's 32 channels, then row 1's. */
#define PAIR_BYTE(d) (uint8_t)(((d) % 32 % 16 / 4) * 16 + (d) / 32 * 8 + (d) % 32 / 16 * 4 + (d) % 4)
/* Rows 0-3 of one group (a, b, c, d) → the four rows' 16 channels in turn. */
#define LONE_BYTE(d) (uint8_t)(((d) % 16 / 4) * 16 + (d) / 16 * 4 + (d) % 4)
static const uint8_t pair_order[64] = ORDER_TABLE(PAIR_BYTE), lone_order[64] = ORDER_TABLE(LONE_BYTE);

/* Four int32 vectors → 64 int8 in the order `order` gives, saturated, then the activation table. */
AVX512 static inline __m512i packed_bytes(__m512i a, __m512i b, __m512i c, __m512i d, __m512i order, const conv_table_t *table) {
  const __m512i y = _mm512_permutexvar_epi8(order, _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d)));
  return table->on ? table64(y, table->t[0], table->t[1], table->t[2], table->t[3]) : y;
}

/*
 * Rows r..r+3 of the 16-channel groups g and g + 1 (accumulators started from the bias), requantized, saturated, the
 * table applied and stored: channels below out_c, rows below valid_rows.
 */
AVX512 static inline void store_pair_tile(const layer_t *layer, const __m512i acc[4][2], int32_t g, int32_t r, int32_t valid_rows,
                                          const conv_table_t *table, int8_t *out) {
  const requant16_t *k = conv_requant_of(layer) + g;
  const int32_t out_c = layer->conv.out_c, in_float = layer->conv.float_requant, c = g * 16, valid = out_c - c < 32 ? out_c - c : 32;
  const __mmask32 mask = valid == 32 ? ~(__mmask32)0 : (((__mmask32)1 << valid) - 1);
  __m512i q[4][2];
  for (int32_t i = 0; i < 4; i++) {
    q[i][0] = requantize16_biased_as(acc[i][0], &k[0], in_float);
    q[i][1] = requantize16_biased_as(acc[i][1], &k[1], in_float);
  }
  const __m512i order = _mm512_loadu_si512(pair_order);
  const __m512i rows01 = packed_bytes(q[0][0], q[0][1], q[1][0], q[1][1], order, table);
  const __m512i rows23 = packed_bytes(q[2][0], q[2][1], q[3][0], q[3][1], order, table);
  const __m256i rows[4] = {_mm512_castsi512_si256(rows01), _mm512_extracti64x4_epi64(rows01, 1), _mm512_castsi512_si256(rows23),
                           _mm512_extracti64x4_epi64(rows23, 1)};
  for (int32_t i = 0; i < 4 && r + i < valid_rows; i++) _mm256_mask_storeu_epi8(out + (size_t)(r + i) * out_c + c, mask, rows[i]);
}

/* The same for rows r..r+3 of the lone group g. */
AVX512 static inline void store_lone_tile(const layer_t *layer, const __m512i acc[4], int32_t g, int32_t r, int32_t valid_rows,
                                          const conv_table_t *table, int8_t *out) {
  const requant16_t *k = conv_requant_of(layer) + g;
  const int32_t out_c = layer->conv.out_c, in_float = layer->conv.float_requant, c = g * 16, valid = out_c - c < 16 ? out_c - c : 16;
  const __mmask16 mask = valid == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1);
  const __m512i y = packed_bytes(requantize16_biased_as(acc[0], k, in_float), requantize16_biased_as(acc[1], k, in_float),
                                 requantize16_biased_as(acc[2], k, in_float), requantize16_biased_as(acc[3], k, in_float),
                                 _mm512_loadu_si512(lone_order), table);
  const __m128i rows[4] = {_mm512_castsi512_si128(y), _mm512_extracti32x4_epi32(y, 1), _mm512_extracti32x4_epi32(y, 2),
                           _mm512_extracti32x4_epi32(y, 3)};
  for (int32_t i = 0; i < 4 && r + i < valid_rows; i++) _mm_mask_storeu_epi8(out + (size_t)(r + i) * out_c + c, mask, rows[i]);
}

/*
 * An empty asm that takes the accumulators in vector registers and gives them back there, once a step: without it
 * GCC (12) moves all eight to other registers and back in every step of the loops below, sixteen moves beside eight
 * vpdpbusd (the depthwise: eight beside four), which slowed the convs and the depthwise in A/B profiles.
 */
#define KEEP_IN_PLACE(a, b, c, d, e, f, g, h) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d), "+v"(e), "+v"(f), "+v"(g), "+v"(h))
#define KEEP_FOUR_IN_PLACE(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))

/*
 * A 4 × 32 tile of vpdpbusd sums started from the groups' biases: step s multiplies the weight vectors w0 + 64s and
 * w1 + 64s (16 channels each) by the quad at sources[i] + 4s (offsets NULL: GEMM rows) or sources[i] + offsets[s] (a
 * pixel-quad conv's taps). Always inlined, so each caller's loop is specialized and the accumulators stay in registers.
 */
AVX512 static inline __attribute__((always_inline)) void avx512_tile(const int8_t *w0, const int8_t *w1, const int32_t *bias0,
                                                                     const int32_t *bias1, const uint8_t *const sources[4],
                                                                     const int32_t *offsets, int32_t steps, __m512i tile[4][2]) {
  const __m512i bias_0 = _mm512_load_si512(bias0), bias_1 = _mm512_load_si512(bias1);
  __m512i v0 = _mm512_load_si512(w0), v1 = _mm512_load_si512(w1);
  int32_t at = offsets ? offsets[0] : 0;
  __m512i b = _mm512_set1_epi32(quad_at(sources[0] + at));
  __m512i c00 = _mm512_dpbusd_epi32(bias_0, b, v0), c01 = _mm512_dpbusd_epi32(bias_1, b, v1);
  b = _mm512_set1_epi32(quad_at(sources[1] + at));
  __m512i c10 = _mm512_dpbusd_epi32(bias_0, b, v0), c11 = _mm512_dpbusd_epi32(bias_1, b, v1);
  b = _mm512_set1_epi32(quad_at(sources[2] + at));
  __m512i c20 = _mm512_dpbusd_epi32(bias_0, b, v0), c21 = _mm512_dpbusd_epi32(bias_1, b, v1);
  b = _mm512_set1_epi32(quad_at(sources[3] + at));
  __m512i c30 = _mm512_dpbusd_epi32(bias_0, b, v0), c31 = _mm512_dpbusd_epi32(bias_1, b, v1);
  for (int32_t s = 1; s < steps; s++) {
    v0 = _mm512_load_si512(w0 + (size_t)s * 64), v1 = _mm512_load_si512(w1 + (size_t)s * 64);
    at = offsets ? offsets[s] : 4 * s;
    b = _mm512_set1_epi32(quad_at(sources[0] + at));
    c00 = _mm512_dpbusd_epi32(c00, b, v0);
    c01 = _mm512_dpbusd_epi32(c01, b, v1);
    b = _mm512_set1_epi32(quad_at(sources[1] + at));
    c10 = _mm512_dpbusd_epi32(c10, b, v0);
    c11 = _mm512_dpbusd_epi32(c11, b, v1);
    b = _mm512_set1_epi32(quad_at(sources[2] + at));
    c20 = _mm512_dpbusd_epi32(c20, b, v0);
    c21 = _mm512_dpbusd_epi32(c21, b, v1);
    b = _mm512_set1_epi32(quad_at(sources[3] + at));
    c30 = _mm512_dpbusd_epi32(c30, b, v0);
    c31 = _mm512_dpbusd_epi32(c31, b, v1);
    KEEP_IN_PLACE(c00, c01, c10, c11, c20, c21, c30, c31);
  }
  tile[0][0] = c00, tile[0][1] = c01, tile[1][0] = c10, tile[1][1] = c11;
  tile[2][0] = c20, tile[2][1] = c21, tile[3][0] = c30, tile[3][1] = c31;
}

/*
 * A lone 16-channel group (out_c 16, or the odd group last): 8 rows × 16 channels, so that no vpdpbusd computes a
 * second group only to drop it. Rows past `rows` (a multiple of 4) repeat the first four and are not stored.
 */
AVX512 static void lone_group(const layer_t *layer, const uint8_t *a, int32_t rows, int32_t valid_rows, int32_t g,
                              const conv_table_t *table, int8_t *out) {
  const int32_t k_pad = layer->conv.k_pad, quads = k_pad / 4;
  const int8_t *w = (const int8_t *)layer->conv.packed + (size_t)g * quads * 64;
  const __m512i bias = _mm512_load_si512(conv_requant_of(layer)[g].bias);
  for (int32_t r = 0; r < rows; r += 8) {
    const uint8_t *s[8];
    for (int32_t i = 0; i < 8; i++) s[i] = a + (size_t)(r + (r + i < rows ? i : i - 4)) * k_pad;
    __m512i v = _mm512_load_si512(w);
    __m512i c0 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[0])), v);
    __m512i c1 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[1])), v);
    __m512i c2 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[2])), v);
    __m512i c3 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[3])), v);
    __m512i c4 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[4])), v);
    __m512i c5 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[5])), v);
    __m512i c6 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[6])), v);
    __m512i c7 = _mm512_dpbusd_epi32(bias, _mm512_set1_epi32(quad_at(s[7])), v);
    for (int32_t q = 1; q < quads; q++) {
      v = _mm512_load_si512(w + (size_t)q * 64);
      const int32_t at = 4 * q;
      c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(quad_at(s[0] + at)), v);
      c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(quad_at(s[1] + at)), v);
      c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(quad_at(s[2] + at)), v);
      c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(quad_at(s[3] + at)), v);
      c4 = _mm512_dpbusd_epi32(c4, _mm512_set1_epi32(quad_at(s[4] + at)), v);
      c5 = _mm512_dpbusd_epi32(c5, _mm512_set1_epi32(quad_at(s[5] + at)), v);
      c6 = _mm512_dpbusd_epi32(c6, _mm512_set1_epi32(quad_at(s[6] + at)), v);
      c7 = _mm512_dpbusd_epi32(c7, _mm512_set1_epi32(quad_at(s[7] + at)), v);
      KEEP_IN_PLACE(c0, c1, c2, c3, c4, c5, c6, c7);
    }
    const __m512i low[4] = {c0, c1, c2, c3}, high[4] = {c4, c5, c6, c7};
    store_lone_tile(layer, low, g, r, valid_rows, table, out);
    if (r + 4 < rows) store_lone_tile(layer, high, g, r + 4, valid_rows, table, out);
  }
}

/* The GEMM: 4 rows × 32 channels per tile (eight accumulators), four k per vpdpbusd, requantize and table fused. */
AVX512 static void avx512_gemm_requant(const layer_t *layer, const int16_t *a_rows, int32_t rows, int32_t valid_rows,
                                       int32_t block_begin, int32_t block_end, int8_t *out) {
  const uint8_t *a = (const uint8_t *)a_rows;
  const int32_t k_pad = layer->conv.k_pad, quads = k_pad / 4;
  const int32_t group_begin = block_begin / 2, group_end = (block_end + 1) / 2;
  const conv_table_t table = conv_table_of(layer);
  for (int32_t g = group_begin; g < group_end; g += 2) {
    if (g + 1 == group_end) {
      lone_group(layer, a, rows, valid_rows, g, &table, out);
      continue;
    }
    const int8_t *w0 = (const int8_t *)layer->conv.packed + (size_t)g * quads * 64, *w1 = w0 + (size_t)quads * 64;
    for (int32_t r = 0; r < rows; r += 4) {
      const uint8_t *a0 = a + (size_t)r * k_pad;
      const uint8_t *const sources[4] = {a0, a0 + k_pad, a0 + 2 * (size_t)k_pad, a0 + 3 * (size_t)k_pad};
      __m512i tile[4][2];
      avx512_tile(w0, w1, conv_requant_of(layer)[g].bias, conv_requant_of(layer)[g + 1].bias, sources, NULL, quads, tile);
      store_pair_tile(layer, tile, g, r, valid_rows, &table, out);
    }
  }
}

/*
 * One output row of a pixel-quad conv (the stem): each tap's pixel broadcast from the padded input; 4 pixels × 32
 * channels (a lone last group: its 16 channels computed twice over, as the pair's second half too).
 */
AVX512 static void avx512_pixel_quad_conv(const layer_t *layer, const uint8_t *window, int8_t *out) {
  const int32_t kw = layer->conv.kw, taps = layer->conv.kh * kw, stride = layer->conv.stride, out_w = layer->conv.out_w, groups = conv_groups(layer);
  const int32_t padded_w = layer->conv.in_w + layer->conv.pad_left + layer->conv.pad_right;
  const conv_table_t table = conv_table_of(layer);
  int32_t offsets[15 * 15];
  for (int32_t t = 0; t < taps; t++) offsets[t] = ((t / kw) * padded_w + t % kw) * 4;
  for (int32_t g = 0; g < groups; g += 2) {
    const int two = g + 1 < groups;
    const int8_t *w0 = (const int8_t *)layer->conv.packed + (size_t)g * taps * 64, *w1 = two ? w0 + (size_t)taps * 64 : w0;
    const int32_t *bias0 = conv_requant_of(layer)[g].bias, *bias1 = conv_requant_of(layer)[two ? g + 1 : g].bias;
    for (int32_t ox = 0; ox < out_w; ox += 4) {
      /* Past the row's end the last pixel is computed again, not stored. */
      const uint8_t *const sources[4] = {window + (size_t)ox * stride * 4, window + (size_t)(ox + 1 < out_w ? ox + 1 : ox) * stride * 4,
                                         window + (size_t)(ox + 2 < out_w ? ox + 2 : ox) * stride * 4,
                                         window + (size_t)(ox + 3 < out_w ? ox + 3 : ox) * stride * 4};
      __m512i tile[4][2];
      avx512_tile(w0, w1, bias0, bias1, sources, offsets, taps, tile);
      /* The tile's rows are pixels ox..ox+3 of this output row. */
      if (two) {
        store_pair_tile(layer, tile, g, ox, out_w, &table, out);
      } else {
        const __m512i lone[4] = {tile[0][0], tile[1][0], tile[2][0], tile[3][0]};
        store_lone_tile(layer, lone, g, ox, out_w, &table, out);
      }
    }
  }
}

/* ---------- depthwise ---------- */

/* The quads in 64-channel blocks (x86_common.h), then one dw_block_t per block. */
typedef struct {
  requant16_t lanes[4]; /* vector i's constants, element e for channel dw_quad_channel(4, b, i, e) */
} dw_block_t;

static int32_t dw_blocks(const layer_t *layer) { return dw_quad_blocks(layer, 4); }
static const dw_block_t *dw_blocks_of(const layer_t *layer) {
  return (const dw_block_t *)((const int8_t *)layer->conv.packed + dw_quad_bytes(layer, 4));
}

/* pool[c..c+63] += the int16 sums (channels 0-31 in low, 32-63 in high). */
AVX512 static inline void flush_pool(int32_t *pool, __m512i low, __m512i high) {
  const __m512i parts[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(low)), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(low, 1)),
                            _mm512_cvtepi16_epi32(_mm512_castsi512_si256(high)), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(high, 1))};
  for (int32_t i = 0; i < 4; i++) _mm512_storeu_si512(pool + 16 * i, _mm512_add_epi32(_mm512_loadu_si512(pool + 16 * i), parts[i]));
}

/* requantize16_biased on 8 lanes with a requant16_t's first eight (lanes 0 and 1 of each array). */
AVX512 static inline __m256i requantize8_low(__m256i v, const requant16_t *k) {
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(v, _mm256_load_si256((const __m256i *)k->mult)),
                                        _mm256_load_si256((const __m256i *)k->round_even));
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_load_si256((const __m256i *)k->mult_odd)),
                                       _mm256_load_si256((const __m256i *)k->round_odd));
  return _mm256_srav_epi32(_mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA), _mm256_load_si256((const __m256i *)k->shift));
}
/* Either form on 8 lanes (the float one on a 512-bit vector: rounding control needs one). */
AVX512 static inline __m256i requantize8_low_as(__m256i v, const requant16_t *k, int in_float) {
  if (!in_float) return requantize8_low(v, k);
  const __m512 scale = _mm512_castps256_ps512(_mm256_load_ps(k->scale));
  return _mm512_castsi512_si256(requantize16_float(_mm512_castsi256_si512(v), scale));
}

/* The two loops for a block of at most 32 channels read the layer alike: its shape, flags and the block's constants. */
typedef struct {
  int32_t c_count, taps, blocks, c, out_w, stride;
  int activation, pooling, in_float;
  __mmask32 store_mask; /* the block's channels below c_count */
  const dw_block_t *k;
} half_block_t;

static inline half_block_t half_block_of(const layer_t *layer, int32_t b) {
  const int32_t c_count = layer->conv.in_c, valid = c_count - b * 64;
  return (half_block_t){c_count, layer->conv.kh * layer->conv.kw, dw_blocks(layer), b * 64, layer->conv.out_w,
                        layer->conv.stride, layer->flags & FLAG_ACTIVATION, layer->flags & FLAG_POOL, layer->conv.float_requant,
                        valid >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << valid) - 1), &dw_blocks_of(layer)[b]};
}

/* pool[0..31] += the int16 sums of 32 channels. */
AVX512 static inline void flush_pool32(int32_t *pool, __m512i sums) {
  _mm512_storeu_si512(pool, _mm512_add_epi32(_mm512_loadu_si512(pool), _mm512_cvtepi16_epi32(_mm512_castsi512_si256(sums))));
  _mm512_storeu_si512(pool + 16, _mm512_add_epi32(_mm512_loadu_si512(pool + 16), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(sums, 1))));
}

/*
 * The row for a last block of at most 32 channels: its channels are lanes 0 and 1 of the 64-channel layout, the low
 * 256 bits of every weight and constant vector, so the same loop runs on 256-bit vectors at no waste.
 */
AVX512 static void depthwise_half_block_by_pixel(const layer_t *layer, const uint8_t *row, int32_t b, const int32_t *offsets,
                                                 const __m512i table[4], int8_t *out, int32_t *pool) {
  const half_block_t h = half_block_of(layer, b);
  const int32_t c_count = h.c_count, groups = (h.taps + 3) / 4, blocks = h.blocks, c = h.c, out_w = h.out_w, stride = h.stride;
  const dw_block_t *k = h.k;
  __m512i sums = _mm512_setzero_si512();
  int32_t pending = 0;
  for (int32_t ox = 0; ox < out_w; ox++) {
    const uint8_t *base = row + (size_t)ox * stride * c_count + c;
    __m256i a0 = _mm256_load_si256((const __m256i *)k->lanes[0].bias), a1 = _mm256_load_si256((const __m256i *)k->lanes[1].bias);
    __m256i a2 = _mm256_load_si256((const __m256i *)k->lanes[2].bias), a3 = _mm256_load_si256((const __m256i *)k->lanes[3].bias);
    const int8_t *w = (const int8_t *)layer->conv.packed + (size_t)b * 256;
    for (int32_t g = 0; g < groups; g++, w += (size_t)blocks * 256) {
      const int32_t *o = offsets + 4 * g;
      const __m256i x0 = _mm256_loadu_si256((const __m256i *)(base + o[0])), x1 = _mm256_loadu_si256((const __m256i *)(base + o[1]));
      const __m256i x2 = _mm256_loadu_si256((const __m256i *)(base + o[2])), x3 = _mm256_loadu_si256((const __m256i *)(base + o[3]));
      const __m256i l01 = _mm256_unpacklo_epi8(x0, x1), l23 = _mm256_unpacklo_epi8(x2, x3);
      const __m256i h01 = _mm256_unpackhi_epi8(x0, x1), h23 = _mm256_unpackhi_epi8(x2, x3);
      a0 = _mm256_dpbusd_epi32(a0, _mm256_unpacklo_epi16(l01, l23), _mm256_load_si256((const __m256i *)w));
      a1 = _mm256_dpbusd_epi32(a1, _mm256_unpackhi_epi16(l01, l23), _mm256_load_si256((const __m256i *)(w + 64)));
      a2 = _mm256_dpbusd_epi32(a2, _mm256_unpacklo_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 128)));
      a3 = _mm256_dpbusd_epi32(a3, _mm256_unpackhi_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 192)));
      KEEP_FOUR_IN_PLACE(a0, a1, a2, a3);
    }
    const __m256i q0 = requantize8_low_as(a0, &k->lanes[0], h.in_float), q1 = requantize8_low_as(a1, &k->lanes[1], h.in_float);
    const __m256i q2 = requantize8_low_as(a2, &k->lanes[2], h.in_float), q3 = requantize8_low_as(a3, &k->lanes[3], h.in_float);
    __m256i y = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    if (h.activation) y = _mm512_castsi512_si256(table64(_mm512_castsi256_si512(y), table[0], table[1], table[2], table[3]));
    _mm256_mask_storeu_epi8(out + (size_t)ox * c_count + c, h.store_mask, y);
    if (h.pooling) {
      sums = _mm512_add_epi16(sums, _mm512_cvtepi8_epi16(y));
      if (++pending == 255 || ox == out_w - 1) {
        flush_pool32(pool + c, sums);
        sums = _mm512_setzero_si512();
        pending = 0;
      }
    }
  }
}

/* requantize16_biased on 8 lanes with a requant16_t's first eight (lanes 0 and 1 of each array), for two pixels at
 * once: the constants' low 256 bits in both halves. */
AVX512 static inline __m512i low_twice(const void *p) { return _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)p)); }
AVX512 static inline __m512i requantize8_twice(__m512i v, const requant16_t *k) {
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(v, low_twice(k->mult)), low_twice(k->round_even));
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), low_twice(k->mult_odd)), low_twice(k->round_odd));
  return _mm512_srav_epi32(_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd), low_twice(k->shift));
}
AVX512 static inline __m512i requantize8_twice_as(__m512i v, const requant16_t *k, int in_float) {
  return in_float ? requantize16_float(v, _mm512_castsi512_ps(low_twice(k->scale))) : requantize8_twice(v, k);
}


/*
 * One output pixel of a 64-channel block (twice: two pixels of a 32-channel block, the weights' and constants' low 256
 * bits in both halves), requantized and saturated: four taps per vpdpbusd (the padded unsigned inputs interleaved per
 * channel), then the packs, which put the lane order back into channel order. Inlined, so `twice` is a constant.
 */
AVX512 static inline __attribute__((always_inline)) __m512i dw_pixel(const uint8_t *base, const int32_t *offsets, int32_t taps,
                                                                     const int8_t *w, int32_t blocks, const dw_block_t *k, int twice,
                                                                     int in_float) {
  __m512i a0 = twice ? low_twice(k->lanes[0].bias) : _mm512_load_si512(k->lanes[0].bias);
  __m512i a1 = twice ? low_twice(k->lanes[1].bias) : _mm512_load_si512(k->lanes[1].bias);
  __m512i a2 = twice ? low_twice(k->lanes[2].bias) : _mm512_load_si512(k->lanes[2].bias);
  __m512i a3 = twice ? low_twice(k->lanes[3].bias) : _mm512_load_si512(k->lanes[3].bias);
  /* Groups of four taps (the last one padded with zero weights), but a lone last tap is taken apart below. */
  const int32_t quads = taps % 4 == 1 ? taps / 4 : (taps + 3) / 4;
  for (int32_t g = 0; g < quads; g++, w += (size_t)blocks * 256) {
    const int32_t *o = offsets + 4 * g;
    const __m512i x0 = _mm512_loadu_si512(base + o[0]), x1 = _mm512_loadu_si512(base + o[1]);
    const __m512i x2 = _mm512_loadu_si512(base + o[2]), x3 = _mm512_loadu_si512(base + o[3]);
    const __m512i l01 = _mm512_unpacklo_epi8(x0, x1), l23 = _mm512_unpacklo_epi8(x2, x3);
    const __m512i h01 = _mm512_unpackhi_epi8(x0, x1), h23 = _mm512_unpackhi_epi8(x2, x3);
    a0 = _mm512_dpbusd_epi32(a0, _mm512_unpacklo_epi16(l01, l23), twice ? low_twice(w) : _mm512_load_si512(w));
    a1 = _mm512_dpbusd_epi32(a1, _mm512_unpackhi_epi16(l01, l23), twice ? low_twice(w + 64) : _mm512_load_si512(w + 64));
    a2 = _mm512_dpbusd_epi32(a2, _mm512_unpacklo_epi16(h01, h23), twice ? low_twice(w + 128) : _mm512_load_si512(w + 128));
    a3 = _mm512_dpbusd_epi32(a3, _mm512_unpackhi_epi16(h01, h23), twice ? low_twice(w + 192) : _mm512_load_si512(w + 192));
    KEEP_FOUR_IN_PLACE(a0, a1, a2, a3);
  }
  if (taps % 4 == 1) {
    /*
     * A lone last tap (3×3 and 5×5 leave one): the group's other three weights are 0, so each dword needs only the
     * tap's byte, which one vpermb per vector moves to byte 0 (channel 16 · lane + 4i + e % 4 for dword e of vector
     * i, the order the unpacks give) instead of four loads and eight unpacks.
     */
    const int32_t *o = offsets + 4 * quads;
    const __m512i x = _mm512_loadu_si512(base + o[0]);
    const __m512i index = _mm512_set_epi32(51, 50, 49, 48, 35, 34, 33, 32, 19, 18, 17, 16, 3, 2, 1, 0);
    a0 = _mm512_dpbusd_epi32(a0, _mm512_permutexvar_epi8(index, x), twice ? low_twice(w) : _mm512_load_si512(w));
    a1 = _mm512_dpbusd_epi32(a1, _mm512_permutexvar_epi8(_mm512_add_epi32(index, _mm512_set1_epi32(4)), x),
                             twice ? low_twice(w + 64) : _mm512_load_si512(w + 64));
    a2 = _mm512_dpbusd_epi32(a2, _mm512_permutexvar_epi8(_mm512_add_epi32(index, _mm512_set1_epi32(8)), x),
                             twice ? low_twice(w + 128) : _mm512_load_si512(w + 128));
    a3 = _mm512_dpbusd_epi32(a3, _mm512_permutexvar_epi8(_mm512_add_epi32(index, _mm512_set1_epi32(12)), x),
                             twice ? low_twice(w + 192) : _mm512_load_si512(w + 192));
    KEEP_FOUR_IN_PLACE(a0, a1, a2, a3);
  }
  const __m512i q0 = twice ? requantize8_twice_as(a0, &k->lanes[0], in_float) : requantize16_biased_as(a0, &k->lanes[0], in_float);
  const __m512i q1 = twice ? requantize8_twice_as(a1, &k->lanes[1], in_float) : requantize16_biased_as(a1, &k->lanes[1], in_float);
  const __m512i q2 = twice ? requantize8_twice_as(a2, &k->lanes[2], in_float) : requantize16_biased_as(a2, &k->lanes[2], in_float);
  const __m512i q3 = twice ? requantize8_twice_as(a3, &k->lanes[3], in_float) : requantize16_biased_as(a3, &k->lanes[3], in_float);
  return _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
}

/*
 * The same for a layer of exactly 32 channels at stride 1 (the first block's depthwise): two adjacent output pixels'
 * inputs are 64 contiguous bytes, so one 512-bit load serves both (ox in the low half, ox + 1 in the high) and the
 * block costs per pixel pair what the 256-bit loop costs per pixel. An odd last pixel is computed twice, stored once.
 * (With the pixels apart, inserting the second half costs more shuffles than pairing saves.)
 */
AVX512 static void depthwise_32_pairs(const layer_t *layer, const uint8_t *row, int32_t b, const int32_t *offsets,
                                      const __m512i table[4], int8_t *out, int32_t *pool) {
  const half_block_t h = half_block_of(layer, b);
  const int32_t c_count = h.c_count, c = h.c, out_w = h.out_w;
  __m512i sums = _mm512_setzero_si512();
  int32_t pending = 0;
  for (int32_t ox = 0; ox < out_w; ox += 2) {
    const int pair = ox + 1 < out_w;
    const uint8_t *base = row + (size_t)ox * h.stride * c_count + c;
    /* An odd last pixel reads 32 bytes past its own, within the padded row's slack. */
    __m512i y = dw_pixel(base, offsets, h.taps, (const int8_t *)layer->conv.packed + (size_t)b * 256, h.blocks, h.k, 1, h.in_float);
    if (h.activation) y = table64(y, table[0], table[1], table[2], table[3]);
    const __m256i first = _mm512_castsi512_si256(y), second = _mm512_extracti64x4_epi64(y, 1);
    _mm256_mask_storeu_epi8(out + (size_t)ox * c_count + c, h.store_mask, first);
    if (pair) _mm256_mask_storeu_epi8(out + (size_t)(ox + 1) * c_count + c, h.store_mask, second);
    if (h.pooling) {
      sums = _mm512_add_epi16(sums, _mm512_cvtepi8_epi16(first));
      if (pair) sums = _mm512_add_epi16(sums, _mm512_cvtepi8_epi16(second));
      /* int16 sums hold at most 255 pixels' values. */
      pending += 2;
      if (pending >= 254 || ox + 2 >= out_w) {
        flush_pool32(pool + c, sums);
        sums = _mm512_setzero_si512();
        pending = 0;
      }
    }
  }
}

/*
 * One depthwise output row for the 64-channel blocks [block_begin, block_end), blocks outermost so that a block's
 * weights and pool sums stay in registers across the row. Per pixel: dw_pixel, the table, the store and the pool
 * (int16 sums, flushed before 256 pixels could overflow them).
 */
AVX512 static void avx512_depthwise_fused(const layer_t *layer, const uint8_t *window, int32_t block_begin,
                                          int32_t block_end, int8_t *out, int32_t *pool) {
  const int32_t c_count = layer->conv.in_c, kw = layer->conv.kw, taps = layer->conv.kh * kw, stride = layer->conv.stride;
  const int32_t groups = (taps + 3) / 4, blocks = dw_blocks(layer), out_w = layer->conv.out_w;
  const int32_t padded_w = layer->conv.in_w + layer->conv.pad_left + layer->conv.pad_right;
  const int activation = layer->flags & FLAG_ACTIVATION, pooling = layer->flags & FLAG_POOL, in_float = layer->conv.float_requant;
  const int8_t *quads = (const int8_t *)layer->conv.packed;
  const dw_block_t *constants = dw_blocks_of(layer);
  const __m512i table[4] = {_mm512_loadu_si512(layer->conv.table), _mm512_loadu_si512(layer->conv.table + 64),
                            _mm512_loadu_si512(layer->conv.table + 128), _mm512_loadu_si512(layer->conv.table + 192)};
  int32_t offsets[15 * 15 + 3];
  for (int32_t t = 0; t < groups * 4; t++) offsets[t] = t < taps ? ((t / kw) * padded_w + t % kw) * c_count : 0;
  for (int32_t b = block_begin; b < block_end; b++) {
    const int32_t c = b * 64, valid = c_count - c < 64 ? c_count - c : 64;
    if (valid <= 32) {
      if (c_count == 32 && layer->conv.stride == 1) depthwise_32_pairs(layer, window, b, offsets, table, out, pool);
      else depthwise_half_block_by_pixel(layer, window, b, offsets, table, out, pool);
      continue;
    }
    const __mmask64 store_mask = valid == 64 ? ~(__mmask64)0 : (((__mmask64)1 << valid) - 1);
    __m512i sum_low = _mm512_setzero_si512(), sum_high = sum_low;
    int32_t pending = 0;
    for (int32_t ox = 0; ox < out_w; ox++) {
      const uint8_t *base = window + (size_t)ox * stride * c_count + c;
      __m512i y = dw_pixel(base, offsets, taps, quads + (size_t)b * 256, blocks, &constants[b], 0, in_float);
      if (activation) y = table64(y, table[0], table[1], table[2], table[3]);
      _mm512_mask_storeu_epi8(out + (size_t)ox * c_count + c, store_mask, y);
      if (pooling) {
        sum_low = _mm512_add_epi16(sum_low, _mm512_cvtepi8_epi16(_mm512_castsi512_si256(y)));
        sum_high = _mm512_add_epi16(sum_high, _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(y, 1)));
        if (++pending == 255 || ox == out_w - 1) {
          flush_pool(pool + c, sum_low, sum_high);
          sum_low = sum_high = _mm512_setzero_si512();
          pending = 0;
        }
      }
    }
  }
}

/* ---------- the classifier ---------- */

/* Σ of a vector's 16 int32 lanes. */
AVX512 static inline int32_t lanes_sum(__m512i v) {
  const __m256i half = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  __m128i quarter = _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
  quarter = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0xB1)));
}

/*
 * The classifier's dots by vpdpbusd, a class at a time so that the weights stream through memory in order: the
 * pooled vector biased to unsigned (p + 128), and 128 · Σw taken off again, Σw by a second vpdpbusd on ones. A last
 * partial 64 channels by masked loads.
 */
AVX512 static void avx512_classifier(const int8_t *pooled, const int8_t *weights, int32_t in_c, int32_t begin, int32_t end, int32_t *dots) {
  const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
  const int32_t full = in_c / 64 * 64;
  const __mmask64 tail = (__mmask64)(((unsigned __int128)1 << (in_c - full)) - 1);
  for (int32_t o = begin; o < end; o++) {
    const int8_t *w = weights + (size_t)o * in_c;
    __m512i acc = _mm512_setzero_si512(), sums = acc;
    for (int32_t c = 0; c < full; c += 64) {
      const __m512i v = _mm512_loadu_si512(w + c);
      acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(pooled + c), flip), v);
      sums = _mm512_dpbusd_epi32(sums, ones, v);
    }
    if (tail) {
      const __m512i v = _mm512_maskz_loadu_epi8(tail, w + full);
      acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, pooled + full), flip), v);
      sums = _mm512_dpbusd_epi32(sums, ones, v);
    }
    /* Unsigned: the lanes wrap, and the difference is the dot wherever the dot itself fits in 32 bits. */
    dots[o - begin] = (int32_t)((uint32_t)lanes_sum(acc) - 128u * (uint32_t)lanes_sum(sums));
  }
}

/* ---------- the path ---------- */

static size_t avx512_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return conv_quad_bytes(layer, 4) + sizeof(requant16_t) * (size_t)conv_groups(layer);
  if (layer->kind == KIND_DEPTHWISE) return dw_quad_bytes(layer, 4) + sizeof(dw_block_t) * (size_t)dw_blocks(layer);
  return 0;
}

static void avx512_pack_weights(layer_t *layer) {
  int8_t *packed = (int8_t *)layer->conv.packed;
  layer->conv.float_requant = requant_exact_in_float(layer);
  if (layer->kind == KIND_DEPTHWISE) {
    effnet_int8_pack_depthwise_quads(layer, 4, packed);
    dw_block_t *constants = (dw_block_t *)(packed + dw_quad_bytes(layer, 4));
    for (int32_t b = 0; b < dw_blocks(layer); b++) {
      for (int32_t i = 0; i < 4; i++) {
        for (int32_t e = 0; e < 16; e++) {
          const int32_t c = dw_quad_channel(4, b, i, e);
          requant16_set(&constants[b].lanes[i], e, layer, c < layer->conv.in_c ? c : -1);
        }
      }
    }
  } else if (layer->kind == KIND_CONV) {
    effnet_int8_pack_conv_quads(layer, 4, packed);
    requant16_t *constants = (requant16_t *)(packed + conv_quad_bytes(layer, 4));
    for (int32_t o = 0; o < conv_groups(layer) * 16; o++) requant16_set(&constants[o / 16], o % 16, layer, o < layer->conv.out_c ? o : -1);
  }
}

AVX512 static void avx512_apply_table(int8_t *data, size_t count, const int8_t *table) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  size_t i = 0;
  for (; i + 64 <= count; i += 64) _mm512_storeu_si512(data + i, table64(_mm512_loadu_si512(data + i), t0, t1, t2, t3));
  effnet_int8_apply_table_scalar(data + i, count - i, table);
}

const kernels_t effnet_int8_avx512_kernels = {
  .isa = EFFNET_INT8_ISA_AVX512, .packed_size = avx512_packed_size, .pack_weights = avx512_pack_weights,
  .pack_rows = avx512_pack_rows, .gemm_requant = avx512_gemm_requant, .pixel_quad_conv = avx512_pixel_quad_conv,
  .conv_applies_table = 1, .requant = effnet_int8_avx2_requant, .depthwise_fused = avx512_depthwise_fused, .depthwise_block = 64,
  .classifier = avx512_classifier, .quantize = effnet_int8_avx2_quantize, .apply_table = avx512_apply_table,
  .residual = effnet_int8_avx2_residual,
};
#endif
