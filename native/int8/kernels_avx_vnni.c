/*
 * AVX-VNNI: vpdpbusd multiplies unsigned × signed bytes and adds four products into int32 with no intermediate
 * saturation, so it is exact for any int8 weights. Activations are biased to unsigned (x + 128, a sign-bit flip)
 * and the conv subtracts 128 · Σw per output channel, computed when the weights are packed. The GEMM, the stem, the
 * depthwise and the row packing are its own; input quantization, the tables and the residual add are AVX2's
 * (x86_common.c).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "x86_common.h"

/* requantize() constants for eight lanes, set when the weights are packed (see requant_lanes_t in x86_common.h). */
typedef struct {
  int32_t bias[8], mult[8], mult_odd[8], shift[8];
  int64_t round_even[4], round_odd[4];
} requant8_t;

static void requant8_set(requant8_t *k, int32_t e, const layer_t *layer, int32_t c) {
  effnet_int8_set_requant_lane((requant_lanes_t){k->bias, k->mult, k->mult_odd, k->shift, k->round_even, k->round_odd}, e, layer, c);
}

/* conv: the quads for 8 channels per vector (x86_common.h), then one requant8_t per 8 channels. */
static const requant8_t *conv_requant_of(const layer_t *layer) {
  return (const requant8_t *)((const int8_t *)layer->conv.packed + conv_quad_bytes(layer, 2));
}

/* Depthwise: the quads in 32-channel blocks (x86_common.h), then one dw_block_t per block. */
typedef struct {
  requant8_t lanes[4]; /* vector i's constants, element e for channel dw_quad_channel(2, b, i, e) */
} dw_block_t;

static const dw_block_t *dw_blocks_of(const layer_t *layer) {
  return (const dw_block_t *)((const int8_t *)layer->conv.packed + dw_quad_bytes(layer, 2));
}

static size_t vnni_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return conv_quad_bytes(layer, 2) + sizeof(requant8_t) * (size_t)(layer->conv.n_pad / 8);
  if (layer->kind == KIND_DEPTHWISE) return dw_quad_bytes(layer, 2) + sizeof(dw_block_t) * (size_t)dw_quad_blocks(layer, 2);
  return 0;
}

static void vnni_pack_weights(layer_t *layer) {
  int8_t *packed = (int8_t *)layer->conv.packed;
  if (layer->kind == KIND_DEPTHWISE) {
    effnet_int8_pack_depthwise_quads(layer, 2, packed);
    dw_block_t *constants = (dw_block_t *)(packed + dw_quad_bytes(layer, 2));
    for (int32_t b = 0; b < dw_quad_blocks(layer, 2); b++) {
      for (int32_t i = 0; i < 4; i++) {
        for (int32_t e = 0; e < 8; e++) {
          const int32_t c = dw_quad_channel(2, b, i, e);
          requant8_set(&constants[b].lanes[i], e, layer, c < layer->conv.in_c ? c : -1);
        }
      }
    }
    return;
  }
  effnet_int8_pack_conv_quads(layer, 2, packed);
  requant8_t *constants = (requant8_t *)(packed + conv_quad_bytes(layer, 2));
  for (int32_t o = 0; o < layer->conv.n_pad; o++) requant8_set(&constants[o / 8], o % 8, layer, o < layer->conv.out_c ? o : -1);
}


static inline int32_t quad_at(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}


/* requantize() with requant8_t's constants: the exact 64-bit products of the even and the odd lanes. */
AVX2 static inline __m256i requantize8_with(__m256i acc, const requant8_t *k) {
  const __m256i v = _mm256_add_epi32(acc, _mm256_load_si256((const __m256i *)k->bias));
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(v, _mm256_load_si256((const __m256i *)k->mult)),
                                        _mm256_load_si256((const __m256i *)k->round_even));
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_load_si256((const __m256i *)k->mult_odd)),
                                       _mm256_load_si256((const __m256i *)k->round_odd));
  const __m256i high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_srav_epi32(high, _mm256_load_si256((const __m256i *)k->shift));
}

/* Channels [c, c+8) and [c+8, c+16) of one row, requantized and saturated to 16 int8 in channel order. */
AVX2 static inline __m128i requant16_with(__m256i acc0, __m256i acc1, const requant8_t *k0, const requant8_t *k1) {
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(requantize8_with(acc0, k0), requantize8_with(acc1, k1)), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}

AVX2 static inline void store16_part_copy(int8_t *dst, __m128i v, int32_t count) {
  int8_t bytes[16];
  _mm_storeu_si128((__m128i *)bytes, v);
  memcpy(dst, bytes, (size_t)count);
}

/*
 * A 4 × 16 tile of vpdpbusd sums: step s multiplies the weight vectors w0 + 32s and w1 + 32s (8 channels each) by
 * the quad at sources[i] + 4s (offsets NULL: GEMM rows) or sources[i] + offsets[s] (a pixel-quad conv's taps).
 * Always inlined, so each caller's loop is specialized and the accumulators stay in registers.
 */
VNNI static inline __attribute__((always_inline)) void vnni_tile(const int8_t *w0, const int8_t *w1, const uint8_t *const sources[4],
                                                                 const int32_t *offsets, int32_t steps, __m256i tile[4][2]) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int32_t s = 0; s < steps; s++) {
    const __m256i v0 = _mm256_load_si256((const __m256i *)(w0 + (size_t)s * 32));
    const __m256i v1 = _mm256_load_si256((const __m256i *)(w1 + (size_t)s * 32));
    const int32_t at = offsets ? offsets[s] : 4 * s;
    __m256i b = _mm256_set1_epi32(quad_at(sources[0] + at));
    c00 = _mm256_dpbusd_avx_epi32(c00, b, v0);
    c01 = _mm256_dpbusd_avx_epi32(c01, b, v1);
    b = _mm256_set1_epi32(quad_at(sources[1] + at));
    c10 = _mm256_dpbusd_avx_epi32(c10, b, v0);
    c11 = _mm256_dpbusd_avx_epi32(c11, b, v1);
    b = _mm256_set1_epi32(quad_at(sources[2] + at));
    c20 = _mm256_dpbusd_avx_epi32(c20, b, v0);
    c21 = _mm256_dpbusd_avx_epi32(c21, b, v1);
    b = _mm256_set1_epi32(quad_at(sources[3] + at));
    c30 = _mm256_dpbusd_avx_epi32(c30, b, v0);
    c31 = _mm256_dpbusd_avx_epi32(c31, b, v1);
  }
  tile[0][0] = c00, tile[0][1] = c01, tile[1][0] = c10, tile[1][1] = c11;
  tile[2][0] = c20, tile[2][1] = c21, tile[3][0] = c30, tile[3][1] = c31;
}

/* The tile's rows below `rows` requantized and stored at out + i · stride, `valid` channels (at most 16) each. */
VNNI static inline void vnni_store_tile(__m256i tile[4][2], const requant8_t *k0, const requant8_t *k1, int8_t *out,
                                        int32_t stride, int32_t rows, int32_t valid) {
  for (int32_t i = 0; i < 4 && i < rows; i++) {
    const __m128i y = requant16_with(tile[i][0], tile[i][1], k0, k1);
    int8_t *dst = out + (size_t)i * stride;
    if (valid == 16) _mm_storeu_si128((__m128i *)dst, y);
    else store16_part_copy(dst, y, valid);
  }
}

/*
 * The GEMM, 4 rows × 16 channels per tile and four k per instruction, with its requantize fused (the small-K convs at
 * high resolution are bound by the epilogue), for the 8-channel blocks [block_begin, block_end).
 */
VNNI static void vnni_gemm_requant(const layer_t *layer, const int16_t *a_rows, int32_t rows, int32_t valid_rows,
                              int32_t block_begin, int32_t block_end, int8_t *out) {
  const uint8_t *a = (const uint8_t *)a_rows;
  const int32_t k_pad = layer->conv.k_pad, quads = k_pad / 4, out_c = layer->conv.out_c;
  const int8_t *packed = (const int8_t *)layer->conv.packed;
  const requant8_t *constants = conv_requant_of(layer);
  for (int32_t nb = block_begin; nb < block_end; nb += 2) {
    const int two = nb + 1 < block_end;
    const int8_t *w0 = packed + (size_t)nb * quads * 32;
    const int8_t *w1 = two ? w0 + (size_t)quads * 32 : w0;
    const requant8_t *k0 = constants + nb, *k1 = two ? k0 + 1 : k0;
    const int32_t c0 = nb * 8, valid = out_c - c0 < 16 ? out_c - c0 : 16;
    for (int32_t r = 0; r < rows; r += 4) {
      const uint8_t *a0 = a + (size_t)r * k_pad;
      const uint8_t *const sources[4] = {a0, a0 + k_pad, a0 + 2 * (size_t)k_pad, a0 + 3 * (size_t)k_pad};
      __m256i tile[4][2];
      vnni_tile(w0, w1, sources, NULL, quads, tile);
      vnni_store_tile(tile, k0, k1, out + (size_t)r * out_c + c0, out_c, valid_rows - r, valid);
    }
  }
}

/*
 * One output row of a pixel-quad conv (the stem): every tap's pixel is one 4-byte group of the padded input, so it is
 * broadcast straight from there; 4 pixels × 16 channels per tile, requantize fused.
 */
VNNI static void vnni_pixel_quad_conv(const layer_t *layer, const uint8_t *window, int8_t *out) {
  const int32_t kw = layer->conv.kw, taps = layer->conv.kh * kw, stride = layer->conv.stride, out_w = layer->conv.out_w, out_c = layer->conv.out_c;
  const int32_t padded_w = layer->conv.in_w + layer->conv.pad_left + layer->conv.pad_right, blocks = layer->conv.n_pad / 8;
  const int8_t *packed = (const int8_t *)layer->conv.packed;
  const requant8_t *constants = conv_requant_of(layer);
  int32_t offsets[15 * 15];
  for (int32_t t = 0; t < taps; t++) offsets[t] = ((t / kw) * padded_w + t % kw) * 4;
  for (int32_t nb = 0; nb < blocks; nb += 2) {
    const int two = nb + 1 < blocks;
    const int8_t *w0 = packed + (size_t)nb * taps * 32, *w1 = two ? w0 + (size_t)taps * 32 : w0;
    const requant8_t *k0 = constants + nb, *k1 = two ? k0 + 1 : k0;
    const int32_t c0 = nb * 8, valid = out_c - c0 < 16 ? out_c - c0 : 16;
    for (int32_t ox = 0; ox < out_w; ox += 4) {
      /* Past the row's end the last pixel is computed again, not stored. */
      const uint8_t *const sources[4] = {window + (size_t)ox * stride * 4, window + (size_t)(ox + 1 < out_w ? ox + 1 : ox) * stride * 4,
                                         window + (size_t)(ox + 2 < out_w ? ox + 2 : ox) * stride * 4,
                                         window + (size_t)(ox + 3 < out_w ? ox + 3 : ox) * stride * 4};
      __m256i tile[4][2];
      vnni_tile(w0, w1, sources, offsets, taps, tile);
      vnni_store_tile(tile, k0, k1, out + (size_t)ox * out_c + c0, out_c, out_w - ox, valid);
    }
  }
}


/* The activation table on 32 bytes without a vector byte permute: through memory, one lookup each. */
AVX2 static inline __m256i table32_scalar(__m256i v, const int8_t *table) {
  int8_t bytes[32];
  _mm256_storeu_si256((__m256i *)bytes, v);
  for (int32_t i = 0; i < 32; i++) bytes[i] = table[(uint8_t)bytes[i]];
  return _mm256_loadu_si256((const __m256i *)bytes);
}

AVX2 static inline void store_part_copy(int8_t *dst, __m256i v, int32_t count) {
  int8_t bytes[32];
  _mm256_storeu_si256((__m256i *)bytes, v);
  memcpy(dst, bytes, (size_t)count);
}

/*
 * One depthwise output row, 32-channel blocks outermost so that a block's weights, requantization constants and
 * pool sums stay in registers across the row. Per pixel: four taps per vpdpbusd (the padded inputs interleaved per
 * channel), bias, requantize, saturate, the table, the store and the pool (int16 sums, flushed to int32 before 256
 * pixels can overflow them).
 */
VNNI static void vnni_depthwise_fused(const layer_t *layer, const uint8_t *window, int32_t block_begin,
                                 int32_t block_end, int8_t *out, int32_t *pool) {
  const int32_t c_count = layer->conv.in_c, kw = layer->conv.kw, taps = layer->conv.kh * kw, stride = layer->conv.stride;
  const int32_t groups = (taps + 3) / 4, blocks = round_up(c_count, 32) / 32, out_w = layer->conv.out_w;
  const int32_t padded_w = layer->conv.in_w + layer->conv.pad_left + layer->conv.pad_right;
  const int activation = layer->flags & FLAG_ACTIVATION, pooling = layer->flags & FLAG_POOL;
  const int8_t *quads = (const int8_t *)layer->conv.packed;
  const dw_block_t *constants = dw_blocks_of(layer);
  int32_t offsets[15 * 15 + 3];
  for (int32_t t = 0; t < groups * 4; t++) offsets[t] = t < taps ? ((t / kw) * padded_w + t % kw) * c_count : 0;
  for (int32_t b = block_begin; b < block_end; b++) {
    const int32_t c = b * 32, valid = c_count - c < 32 ? c_count - c : 32;
    const dw_block_t *k = &constants[b];
    __m256i sum_lo = _mm256_setzero_si256(), sum_hi = sum_lo;
    int32_t pending = 0;
    for (int32_t ox = 0; ox < out_w; ox++) {
      const uint8_t *base = window + (size_t)ox * stride * c_count + c;
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
      const int8_t *w = quads + (size_t)b * 128;
      for (int32_t g = 0; g < groups; g++, w += (size_t)blocks * 128) {
        const int32_t *o = offsets + 4 * g;
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(base + o[0]));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(base + o[1]));
        const __m256i x2 = _mm256_loadu_si256((const __m256i *)(base + o[2]));
        const __m256i x3 = _mm256_loadu_si256((const __m256i *)(base + o[3]));
        const __m256i l01 = _mm256_unpacklo_epi8(x0, x1), l23 = _mm256_unpacklo_epi8(x2, x3);
        const __m256i h01 = _mm256_unpackhi_epi8(x0, x1), h23 = _mm256_unpackhi_epi8(x2, x3);
        a0 = _mm256_dpbusd_avx_epi32(a0, _mm256_unpacklo_epi16(l01, l23), _mm256_load_si256((const __m256i *)w));
        a1 = _mm256_dpbusd_avx_epi32(a1, _mm256_unpackhi_epi16(l01, l23), _mm256_load_si256((const __m256i *)(w + 32)));
        a2 = _mm256_dpbusd_avx_epi32(a2, _mm256_unpacklo_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 64)));
        a3 = _mm256_dpbusd_avx_epi32(a3, _mm256_unpackhi_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 96)));
      }
      const __m256i q0 = requantize8_with(a0, &k->lanes[0]), q1 = requantize8_with(a1, &k->lanes[1]);
      const __m256i q2 = requantize8_with(a2, &k->lanes[2]), q3 = requantize8_with(a3, &k->lanes[3]);
      /* Both packs work per 128-bit lane, which puts the lane order back into channel order 0..31. */
      __m256i y = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
      if (activation) y = table32_scalar(y, layer->conv.table);
      int8_t *dst = out + (size_t)ox * c_count + c;
      if (valid == 32) _mm256_storeu_si256((__m256i *)dst, y);
      else store_part_copy(dst, y, valid);
      if (pooling) {
        sum_lo = _mm256_add_epi16(sum_lo, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y)));
        sum_hi = _mm256_add_epi16(sum_hi, _mm256_cvtepi8_epi16(_mm256_extracti128_si256(y, 1)));
        if (++pending == 255 || ox == out_w - 1) {
          int32_t *p = pool + c;
          _mm256_storeu_si256((__m256i *)p, _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)p), _mm256_cvtepi16_epi32(_mm256_castsi256_si128(sum_lo))));
          _mm256_storeu_si256((__m256i *)(p + 8), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(p + 8)), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(sum_lo, 1))));
          _mm256_storeu_si256((__m256i *)(p + 16), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(p + 16)), _mm256_cvtepi16_epi32(_mm256_castsi256_si128(sum_hi))));
          _mm256_storeu_si256((__m256i *)(p + 24), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(p + 24)), _mm256_cvtepi16_epi32(_mm256_extracti128_si256(sum_hi, 1))));
          sum_lo = sum_hi = _mm256_setzero_si256();
          pending = 0;
        }
      }
    }
  }
}


const kernels_t effnet_int8_avx_vnni_kernels = {
  .isa = EFFNET_INT8_ISA_AVX_VNNI, .packed_size = vnni_packed_size, .pack_weights = vnni_pack_weights,
  .pack_rows = effnet_int8_vnni_pack_rows, .gemm_requant = vnni_gemm_requant, .pixel_quad_conv = vnni_pixel_quad_conv,
  .requant = effnet_int8_avx2_requant,
  .depthwise_fused = vnni_depthwise_fused, .depthwise_block = 32, .quantize = effnet_int8_avx2_quantize, .apply_table = effnet_int8_apply_table_scalar,
  .residual = effnet_int8_avx2_residual, .classifier = effnet_int8_classifier_scalar,
};

#endif
