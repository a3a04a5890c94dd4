/*
 * x86-64 AVX2 path. int8 values are widened to int16 and multiplied with vpmaddwd (exact int32 pair sums), not
 * vpmaddubsw, whose int16 pair sums saturate (FACTS.md): the results equal the scalar path's bit for bit.
 * Compiled with target attributes so the library still loads on CPUs without AVX2 (the dispatcher checks cpuid).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "internal.h"

#define AVX2 __attribute__((target("avx2")))

static int32_t round_up(int32_t value, int32_t multiple) { return (value + multiple - 1) / multiple * multiple; }

static size_t avx2_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return sizeof(int16_t) * (size_t)layer->n_pad * layer->k_pad;
  if (layer->kind == KIND_DEPTHWISE) return sizeof(int16_t) * (size_t)layer->kh * layer->kw * round_up(layer->in_c, 16);
  return 0;
}

/* conv: [n_pad/8][k_pad/2][8 channels][2 k] so one vpmaddwd takes a k pair for 8 channels; depthwise: [tap][c16]. */
static void avx2_pack_weights(layer_t *layer) {
  if (layer->kind == KIND_CONV) {
    const int32_t k_pad = layer->k_pad, pairs = k_pad / 2;
    for (int32_t o = 0; o < layer->n_pad; o++) {
      for (int32_t k = 0; k < k_pad; k++) {
        const int8_t w = o < layer->out_c ? layer->weights[(size_t)o * k_pad + k] : 0;
        layer->packed[(((size_t)(o / 8) * pairs + k / 2) * 8 + o % 8) * 2 + k % 2] = w;
      }
    }
  } else if (layer->kind == KIND_DEPTHWISE) {
    const int32_t c_count = layer->in_c, c_pad = round_up(c_count, 16), taps = layer->kh * layer->kw;
    for (int32_t t = 0; t < taps; t++) {
      for (int32_t c = 0; c < c_pad; c++) {
        layer->packed[(size_t)t * c_pad + c] = c < c_count ? layer->weights[(size_t)t * c_count + c] : 0;
      }
    }
  }
}

AVX2 static inline void store_int8x8(int8_t *out, __m256i v) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(words, words));
}

/* gated_value() on 8 lanes: the same float operations in the same order, then round-to-nearest-even. */
AVX2 static inline __m256i gated8(__m128i bytes, const float *gate, __m256 in_scale, __m256 out_scale) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), in_scale);
  v = _mm256_div_ps(_mm256_mul_ps(v, _mm256_loadu_ps(gate)), out_scale);
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-256.0f)), _mm256_set1_ps(256.0f));
  const __m256i q = _mm256_cvtps_epi32(v);
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
}

AVX2 static void avx2_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst,
                                const float *gate, float in_scale, float out_scale) {
  const __m256 vin = _mm256_set1_ps(in_scale), vout = _mm256_set1_ps(out_scale);
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    int16_t *out = dst + (size_t)r * k_pad;
    int32_t c = 0;
    for (; c + 16 <= k; c += 16) {
      const __m128i bytes = _mm_loadu_si128((const __m128i *)(row + c));
      __m256i x;
      if (gate) {
        const __m256i lo = gated8(bytes, gate + c, vin, vout);
        const __m256i hi = gated8(_mm_srli_si128(bytes, 8), gate + c + 8, vin, vout);
        x = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
      } else {
        x = _mm256_cvtepi8_epi16(bytes);
      }
      _mm256_storeu_si256((__m256i *)(out + c), x);
    }
    for (; c < k; c++) out[c] = gate ? gated_value(row[c], in_scale, gate[c], out_scale) : row[c];
    for (; c < k_pad; c++) out[c] = 0;
  }
}

static inline int32_t pair_at(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* 4 rows × 16 channels per tile; the 16-channel weight panel stays in L1 while the rows stream past it. */
AVX2 static void avx2_gemm(const layer_t *layer, const int16_t *a, int32_t rows, int32_t *acc) {
  const int32_t k_pad = layer->k_pad, pairs = k_pad / 2, n_pad = layer->n_pad, blocks = n_pad / 8;
  for (int32_t nb = 0; nb < blocks; nb += 2) {
    const int two = nb + 1 < blocks;
    const int16_t *w0 = layer->packed + (size_t)nb * pairs * 16;
    const int16_t *w1 = two ? w0 + (size_t)pairs * 16 : w0;
    for (int32_t r = 0; r < rows; r += 4) {
      const int16_t *a0 = a + (size_t)r * k_pad, *a1 = a0 + k_pad, *a2 = a1 + k_pad, *a3 = a2 + k_pad;
      __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int32_t p = 0; p < pairs; p++) {
        const __m256i v0 = _mm256_load_si256((const __m256i *)(w0 + (size_t)p * 16));
        const __m256i v1 = _mm256_load_si256((const __m256i *)(w1 + (size_t)p * 16));
        __m256i b = _mm256_set1_epi32(pair_at(a0 + 2 * p));
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b, v0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b, v1));
        b = _mm256_set1_epi32(pair_at(a1 + 2 * p));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b, v0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b, v1));
        b = _mm256_set1_epi32(pair_at(a2 + 2 * p));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b, v0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b, v1));
        b = _mm256_set1_epi32(pair_at(a3 + 2 * p));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b, v0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b, v1));
      }
      int32_t *out = acc + (size_t)r * n_pad + (size_t)nb * 8;
      _mm256_storeu_si256((__m256i *)out, c00);
      _mm256_storeu_si256((__m256i *)(out + n_pad), c10);
      _mm256_storeu_si256((__m256i *)(out + 2 * (size_t)n_pad), c20);
      _mm256_storeu_si256((__m256i *)(out + 3 * (size_t)n_pad), c30);
      if (two) {
        _mm256_storeu_si256((__m256i *)(out + 8), c01);
        _mm256_storeu_si256((__m256i *)(out + n_pad + 8), c11);
        _mm256_storeu_si256((__m256i *)(out + 2 * (size_t)n_pad + 8), c21);
        _mm256_storeu_si256((__m256i *)(out + 3 * (size_t)n_pad + 8), c31);
      }
    }
  }
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

AVX2 static void avx2_requant(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
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

AVX2 static void avx2_depthwise_row(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) {
  const int32_t c_count = layer->in_c, c_pad = round_up(c_count, 16), kh = layer->kh, kw = layer->kw;
  const int32_t full = c_count / 16 * 16;
  for (int32_t ox = 0; ox < layer->out_w; ox++) {
    int32_t *out = acc + (size_t)ox * c_count;
    for (int32_t c = 0; c < full; c += 16) {
      __m256i lo = _mm256_setzero_si256(), hi = lo;
      for (int32_t ky = 0; ky < kh; ky++) {
        const int32_t iy = oy * layer->stride - layer->pad_top + ky;
        if (iy < 0 || iy >= layer->in_h) continue;
        for (int32_t kx = 0; kx < kw; kx++) {
          const int32_t ix = ox * layer->stride - layer->pad_left + kx;
          if (ix < 0 || ix >= layer->in_w) continue;
          const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in + ((size_t)iy * layer->in_w + ix) * c_count + c)));
          const __m256i w = _mm256_load_si256((const __m256i *)(layer->packed + (size_t)(ky * kw + kx) * c_pad + c));
          const __m256i p = _mm256_mullo_epi16(x, w);
          lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
          hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
        }
      }
      _mm256_storeu_si256((__m256i *)(out + c), lo);
      _mm256_storeu_si256((__m256i *)(out + c + 8), hi);
    }
    for (int32_t c = full; c < c_count; c++) out[c] = depthwise_value(layer, in, oy, ox, c);
  }
}

AVX2 static void avx2_residual(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale) {
  const __m256 vm = _mm256_set1_ps(main_scale), vs = _mm256_set1_ps(skip_scale), vo = _mm256_set1_ps(out_scale);
  const __m256 low = _mm256_set1_ps(-256.0f), high = _mm256_set1_ps(256.0f);
  int32_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(main + i))));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(skip + i))));
    __m256 v = _mm256_div_ps(_mm256_add_ps(_mm256_mul_ps(a, vm), _mm256_mul_ps(b, vs)), vo);
    v = _mm256_min_ps(_mm256_max_ps(v, low), high);
    store_int8x8(main + i, _mm256_cvtps_epi32(v));
  }
  for (; i < count; i++) main[i] = residual_value(main[i], skip[i], main_scale, skip_scale, out_scale);
}

const kernels_t effnet_int8_avx2_kernels = {
  EFFNET_INT8_ISA_AVX2, avx2_packed_size, avx2_pack_weights, avx2_pack_rows, avx2_gemm,
  avx2_requant, avx2_depthwise_row, avx2_residual,
};
#endif
