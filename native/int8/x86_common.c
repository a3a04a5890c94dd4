/* The x86 code the AVX2, AVX-VNNI and AVX-512 paths share (x86_common.h). */
#if defined(__x86_64__)
#include <string.h>

#include "x86_common.h"

AVX2 static inline void store_int8x8(int8_t *out, __m256i v) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(words, words));
}

/*
 * requantize() on 8 lanes: vpmuldq on the even and the odd lanes gives the exact 64-bit products; the rounding
 * constant is added in 64 bits, and floor(floor(x / 2^32) / 2^shift) = floor(x / 2^(32 + shift)).
 */
AVX2 static inline __m256i requantize8(__m256i v, __m256i mult, __m256i shift) {
  const __m256i one = _mm256_set1_epi64x(1), base = _mm256_set1_epi64x(31), low = _mm256_set1_epi64x(0xFFFFFFFF);
  const __m256i round_even = _mm256_sllv_epi64(one, _mm256_add_epi64(_mm256_and_si256(shift, low), base));
  const __m256i round_odd = _mm256_sllv_epi64(one, _mm256_add_epi64(_mm256_srli_epi64(shift, 32), base));
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(v, mult), round_even);
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(mult, 32)), round_odd);
  const __m256i high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_srav_epi32(high, shift);
}

AVX2 void effnet_int8_avx2_requant(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift, int8_t *out) {
  for (int32_t r = 0; r < rows; r++) {
    const int32_t *in = acc + (size_t)r * acc_stride;
    int8_t *dst = out + (size_t)r * n;
    int32_t c = 0;
    for (; c + 8 <= n; c += 8) {
      const __m256i v = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(in + c)), _mm256_loadu_si256((const __m256i *)(bias + c)));
      store_int8x8(dst + c, requantize8(v, _mm256_loadu_si256((const __m256i *)(mult + c)), _mm256_loadu_si256((const __m256i *)(shift + c))));
    }
    for (; c < n; c++) dst[c] = clamp_int8(requantize(in[c] + bias[c], mult[c], shift[c]));
  }
}

AVX2 void effnet_int8_avx2_residual(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale) {
  const __m256 vm = _mm256_set1_ps(main_scale), vs = _mm256_set1_ps(skip_scale), vo = _mm256_set1_ps(out_scale), vr = _mm256_set1_ps(1.0f / out_scale);
  const __m256 low = _mm256_set1_ps(-256.0f), high = _mm256_set1_ps(256.0f);
  int32_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(main + i))));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(skip + i))));
    __m256 v = quotient8(_mm256_add_ps(_mm256_mul_ps(a, vm), _mm256_mul_ps(b, vs)), vo, vr);
    v = _mm256_min_ps(_mm256_max_ps(v, low), high);
    store_int8x8(main + i, _mm256_cvtps_epi32(v));
  }
  for (; i < count; i++) main[i] = residual_value(main[i], skip[i], main_scale, skip_scale, out_scale);
}

/* quantize_value() on 8 lanes: the same division, NaN to 0, clamp, round to nearest even. */
AVX2 void effnet_int8_avx2_quantize(const float *src, size_t count, float scale, int8_t *dst) {
  const __m256 vscale = _mm256_set1_ps(scale), vreciprocal = _mm256_set1_ps(1.0f / scale), low = _mm256_set1_ps(-256.0f), high = _mm256_set1_ps(256.0f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = quotient8(_mm256_loadu_ps(src + i), vscale, vreciprocal);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    store_int8x8(dst + i, _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, low), high)));
  }
  effnet_int8_quantize_scalar(src + i, count - i, scale, dst + i);
}

void effnet_int8_pack_conv_quads(const layer_t *layer, int32_t lanes, int8_t *packed) {
  const int32_t width = 4 * lanes, depth = conv_quad_depth(layer), k_pad = layer->conv.k_pad, in_c = layer->conv.in_c;
  const int by_pixel = pixel_quad_conv(layer);
  memset(packed, 0, conv_quad_bytes(layer, lanes));
  for (int32_t o = 0; o < layer->conv.out_c; o++) {
    for (int32_t k = 0; k < k_pad; k++) {
      const int32_t at = by_pixel ? k / in_c * 4 + k % in_c : k;
      if (at < depth) packed[(((size_t)(o / width) * (depth / 4) + at / 4) * width + o % width) * 4 + at % 4] = layer->conv.weights[(size_t)o * k_pad + k];
    }
  }
}

void effnet_int8_pack_depthwise_quads(const layer_t *layer, int32_t lanes, int8_t *quads) {
  const int32_t c_count = layer->conv.in_c, taps = layer->conv.kh * layer->conv.kw, groups = (taps + 3) / 4, blocks = dw_quad_blocks(layer, lanes);
  for (int32_t g = 0; g < groups; g++) {
    for (int32_t b = 0; b < blocks; b++) {
      int8_t *out = quads + ((size_t)g * blocks + b) * 64 * lanes;
      for (int32_t i = 0; i < 4; i++) {
        for (int32_t e = 0; e < 4 * lanes; e++) {
          const int32_t c = dw_quad_channel(lanes, b, i, e);
          for (int32_t q = 0; q < 4; q++) {
            const int32_t t = 4 * g + q;
            out[i * 16 * lanes + e * 4 + q] = c < c_count && t < taps ? layer->conv.weights[(size_t)t * c_count + c] : 0;
          }
        }
      }
    }
  }
}

void effnet_int8_set_requant_lane(requant_lanes_t k, int32_t e, const layer_t *layer, int32_t c) {
  const int32_t mult = c >= 0 ? layer->conv.mult[c] : 1 << 30, shift = c >= 0 ? layer->conv.shift[c] : 0;
  const int64_t round = (int64_t)1 << (31 + shift);
  k.bias[e] = c >= 0 ? layer->conv.bias[c] - 128 * weight_sum(layer, c) : 0;
  k.mult[e] = mult;
  k.shift[e] = shift;
  if (e % 2) {
    k.mult_odd[e - 1] = mult;
    k.mult_odd[e] = 0;
    k.round_odd[e / 2] = round;
  } else {
    k.round_even[e / 2] = round;
  }
}

/* Rows as unsigned bytes (x + 128); the buffer is typed int16 for the other paths and holds k_pad bytes per row. */
VNNI void effnet_int8_vnni_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst_rows,
                                const float *gate, const gated_input_t *g) {
  const __m256 vin = _mm256_set1_ps(g->in_scale), vout = _mm256_set1_ps(g->out_scale), vreciprocal = _mm256_set1_ps(1.0f / g->out_scale);
  const __m256i vzero = _mm256_set1_epi32(g->in_zero), vout_zero = _mm256_set1_epi32(g->out_zero);
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  uint8_t *dst = (uint8_t *)dst_rows;
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    uint8_t *out = dst + (size_t)r * k_pad;
    int32_t c = 0;
    if (gate) {
      for (; c + 16 <= k; c += 16) {
        const __m128i bytes = _mm_loadu_si128((const __m128i *)(row + c));
        const __m256i lo = gated8(bytes, vzero, vout_zero, gate + c, vin, vout, vreciprocal);
        const __m256i hi = gated8(_mm_srli_si128(bytes, 8), vzero, vout_zero, gate + c + 8, vin, vout, vreciprocal);
        const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
        const __m128i packed = _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        _mm_storeu_si128((__m128i *)(out + c), _mm_xor_si128(packed, _mm256_castsi256_si128(flip)));
      }
    } else {
      for (; c + 32 <= k; c += 32) {
        _mm256_storeu_si256((__m256i *)(out + c), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + c)), flip));
      }
      for (; c + 16 <= k; c += 16) {
        _mm_storeu_si128((__m128i *)(out + c), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(row + c)), _mm256_castsi256_si128(flip)));
      }
      for (; c + 8 <= k; c += 8) {
        _mm_storel_epi64((__m128i *)(out + c), _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(row + c)), _mm256_castsi256_si128(flip)));
      }
    }
    for (; c < k; c++) out[c] = (uint8_t)((gate ? (int8_t)gated_value(row[c], g, gate[c]) : row[c]) + 128);
    for (; c < k_pad; c++) out[c] = 0;
  }
}

#endif
