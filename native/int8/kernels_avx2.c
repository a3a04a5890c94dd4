/*
 * x86-64 AVX2 path. int8 values are widened to int16 and multiplied with vpmaddwd (exact int32 pair sums), not
 * vpmaddubsw, whose int16 pair sums saturate (FACTS.md): the results equal the scalar path's bit for bit.
 * Compiled with target attributes so the library still loads on CPUs without AVX2 (the dispatcher checks cpuid).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "x86_common.h"

static size_t avx2_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return sizeof(int16_t) * (size_t)layer->conv.n_pad * layer->conv.k_pad;
  if (layer->kind == KIND_DEPTHWISE) {
    const size_t taps = (size_t)layer->conv.kh * layer->conv.kw, pairs = (taps + 1) / 2;
    return sizeof(int16_t) * (taps + 2 * pairs) * round_up(layer->conv.in_c, 16);
  }
  return 0;
}

/* conv: [n_pad/8][k_pad/2][8 channels][2 k] so one vpmaddwd takes a k pair for 8 channels; depthwise: [tap][c16]. */
static void avx2_pack_weights(layer_t *layer) {
  if (layer->kind == KIND_CONV) {
    const int32_t k_pad = layer->conv.k_pad, pairs = k_pad / 2;
    for (int32_t o = 0; o < layer->conv.n_pad; o++) {
      for (int32_t k = 0; k < k_pad; k++) {
        const int8_t w = o < layer->conv.out_c ? layer->conv.weights[(size_t)o * k_pad + k] : 0;
        layer->conv.packed[(((size_t)(o / 8) * pairs + k / 2) * 8 + o % 8) * 2 + k % 2] = w;
      }
    }
  } else if (layer->kind == KIND_DEPTHWISE) {
    const int32_t c_count = layer->conv.in_c, c_pad = round_up(c_count, 16), taps = layer->conv.kh * layer->conv.kw;
    for (int32_t t = 0; t < taps; t++) {
      for (int32_t c = 0; c < c_pad; c++) {
        layer->conv.packed[(size_t)t * c_pad + c] = c < c_count ? layer->conv.weights[(size_t)t * c_count + c] : 0;
      }
    }
    /* Tap pairs for the interior kernel: per pair and 16-channel block, the weights in vpunpck{l,h}wd order
     * (low: channels 0-3 | 8-11, high: 4-7 | 12-15, each as (tap 2p, tap 2p+1)); an odd last tap pairs with 0. */
    int16_t *pairs = layer->conv.packed + (size_t)taps * c_pad;
    const int32_t blocks = c_pad / 16;
    for (int32_t p = 0; p < (taps + 1) / 2; p++) {
      for (int32_t b = 0; b < blocks; b++) {
        int16_t *out = pairs + ((size_t)p * blocks + b) * 32;
        for (int32_t half = 0; half < 2; half++) {
          for (int32_t lane = 0; lane < 2; lane++) {
            for (int32_t j = 0; j < 4; j++) {
              const int32_t c = b * 16 + lane * 8 + half * 4 + j;
              for (int32_t which = 0; which < 2; which++) {
                const int32_t t = 2 * p + which;
                out[half * 16 + lane * 8 + j * 2 + which] = c < c_count && t < taps ? layer->conv.weights[(size_t)t * c_count + c] : 0;
              }
            }
          }
        }
      }
    }
  }
}

AVX2 static void avx2_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst,
                                const float *gate, const gated_input_t *g) {
  const __m256 vin = _mm256_set1_ps(g->in_scale), vout = _mm256_set1_ps(g->out_scale), vreciprocal = _mm256_set1_ps(1.0f / g->out_scale);
  const __m256i vzero = _mm256_set1_epi32(g->in_zero), vout_zero = _mm256_set1_epi32(g->out_zero);
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    int16_t *out = dst + (size_t)r * k_pad;
    int32_t c = 0;
    for (; c + 16 <= k; c += 16) {
      const __m128i bytes = _mm_loadu_si128((const __m128i *)(row + c));
      __m256i x;
      if (gate) {
        const __m256i lo = gated8(bytes, vzero, vout_zero, gate + c, vin, vout, vreciprocal);
        const __m256i hi = gated8(_mm_srli_si128(bytes, 8), vzero, vout_zero, gate + c + 8, vin, vout, vreciprocal);
        x = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
      } else {
        x = _mm256_cvtepi8_epi16(bytes);
      }
      _mm256_storeu_si256((__m256i *)(out + c), x);
    }
    for (; c < k; c++) out[c] = gate ? gated_value(row[c], g, gate[c]) : row[c];
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
  const int32_t k_pad = layer->conv.k_pad, pairs = k_pad / 2, n_pad = layer->conv.n_pad, blocks = n_pad / 8;
  for (int32_t nb = 0; nb < blocks; nb += 2) {
    const int two = nb + 1 < blocks;
    const int16_t *w0 = layer->conv.packed + (size_t)nb * pairs * 16;
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

/* Interior pixel (every tap exists): 16-channel blocks in [c_begin, c_end), two taps per vpmaddwd. */
AVX2 static inline void dw_interior_pairs(const layer_t *layer, const int8_t *base, const int32_t *offsets, int32_t c_begin,
                                          int32_t c_end, int32_t *out) {
  const int32_t c_pad = round_up(layer->conv.in_c, 16), taps = layer->conv.kh * layer->conv.kw, blocks = c_pad / 16;
  const int16_t *pairs = layer->conv.packed + (size_t)taps * c_pad;
  for (int32_t c = c_begin; c < c_end; c += 16) {
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    const int16_t *w = pairs + (size_t)(c / 16) * 32;
    for (int32_t t = 0; t < taps; t += 2, w += (size_t)blocks * 32) {
      const __m256i xa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(base + offsets[t] + c)));
      const __m256i xb = t + 1 < taps ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(base + offsets[t + 1] + c))) : _mm256_setzero_si256();
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), _mm256_load_si256((const __m256i *)w)));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), _mm256_load_si256((const __m256i *)(w + 16))));
    }
    _mm256_storeu_si256((__m256i *)(out + c), _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256((__m256i *)(out + c + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
  }
}

/* Border pixel: 16-channel blocks, skipping the taps outside the input. */
AVX2 static inline void dw_border(const layer_t *layer, const int8_t *in, int32_t oy, int32_t ox, int32_t full, int32_t *out) {
  const int32_t c_count = layer->conv.in_c, c_pad = round_up(c_count, 16), kh = layer->conv.kh, kw = layer->conv.kw;
  for (int32_t c = 0; c < full; c += 16) {
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    for (int32_t ky = 0; ky < kh; ky++) {
      const int32_t iy = oy * layer->conv.stride - layer->conv.pad_top + ky;
      if (iy < 0 || iy >= layer->conv.in_h) continue;
      for (int32_t kx = 0; kx < kw; kx++) {
        const int32_t ix = ox * layer->conv.stride - layer->conv.pad_left + kx;
        if (ix < 0 || ix >= layer->conv.in_w) continue;
        const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(in + ((size_t)iy * layer->conv.in_w + ix) * c_count + c)));
        const __m256i w = _mm256_load_si256((const __m256i *)(layer->conv.packed + (size_t)(ky * kw + kx) * c_pad + c));
        const __m256i p = _mm256_mullo_epi16(x, w);
        lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
        hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
      }
    }
    _mm256_storeu_si256((__m256i *)(out + c), lo);
    _mm256_storeu_si256((__m256i *)(out + c + 8), hi);
  }
}

/* Offsets of each tap from the top-left input pixel of a window, in bytes. */
static inline void tap_offsets(const layer_t *layer, int32_t *offsets) {
  for (int32_t t = 0; t < layer->conv.kh * layer->conv.kw; t++) offsets[t] = ((t / layer->conv.kw) * layer->conv.in_w + t % layer->conv.kw) * layer->conv.in_c;
}

AVX2 static void avx2_depthwise_row(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) {
  const int32_t c_count = layer->conv.in_c, kh = layer->conv.kh, kw = layer->conv.kw, full = c_count / 16 * 16;
  const int32_t iy0 = oy * layer->conv.stride - layer->conv.pad_top;
  const int rows_inside = iy0 >= 0 && iy0 + kh <= layer->conv.in_h;
  int32_t offsets[15 * 15];
  tap_offsets(layer, offsets);
  for (int32_t ox = 0; ox < layer->conv.out_w; ox++) {
    int32_t *out = acc + (size_t)ox * c_count;
    const int32_t ix0 = ox * layer->conv.stride - layer->conv.pad_left;
    if (rows_inside && ix0 >= 0 && ix0 + kw <= layer->conv.in_w) {
      dw_interior_pairs(layer, in + ((size_t)iy0 * layer->conv.in_w + ix0) * c_count, offsets, 0, full, out);
    } else {
      dw_border(layer, in, oy, ox, full, out);
    }
    for (int32_t c = full; c < c_count; c++) out[c] = depthwise_value(layer, in, oy, ox, c);
  }
}

/* AVX2 has no byte permute wider than 16 entries, and a pshufb cascade costs more than the scalar loads. */
const kernels_t effnet_int8_avx2_kernels = {
  .isa = EFFNET_INT8_ISA_AVX2, .packed_size = avx2_packed_size, .pack_weights = avx2_pack_weights,
  .pack_rows = avx2_pack_rows, .gemm = avx2_gemm, .requant = effnet_int8_avx2_requant, .depthwise_row = avx2_depthwise_row,
  .classifier = effnet_int8_classifier_scalar, .quantize = effnet_int8_avx2_quantize,
  .apply_table = effnet_int8_apply_table_scalar, .residual = effnet_int8_avx2_residual,
};

#endif
