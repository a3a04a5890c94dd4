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
  if (layer->kind == KIND_DEPTHWISE) {
    const size_t taps = (size_t)layer->kh * layer->kw, pairs = (taps + 1) / 2;
    return sizeof(int16_t) * (taps + 2 * pairs) * round_up(layer->in_c, 16);
  }
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
    /* Tap pairs for the interior kernel: per pair and 16-channel block, the weights in vpunpck{l,h}wd order
     * (low: channels 0-3 | 8-11, high: 4-7 | 12-15, each as (tap 2p, tap 2p+1)); an odd last tap pairs with 0. */
    int16_t *pairs = layer->packed + (size_t)taps * c_pad;
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
                out[half * 16 + lane * 8 + j * 2 + which] = c < c_count && t < taps ? layer->weights[(size_t)t * c_count + c] : 0;
              }
            }
          }
        }
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

/* Interior pixel (every tap exists): 16-channel blocks in [c_begin, c_end), two taps per vpmaddwd. */
AVX2 static inline void dw_interior_pairs(const layer_t *layer, const int8_t *base, const int32_t *offsets, int32_t c_begin,
                                          int32_t c_end, int32_t *out) {
  const int32_t c_pad = round_up(layer->in_c, 16), taps = layer->kh * layer->kw, blocks = c_pad / 16;
  const int16_t *pairs = layer->packed + (size_t)taps * c_pad;
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
  const int32_t c_count = layer->in_c, c_pad = round_up(c_count, 16), kh = layer->kh, kw = layer->kw;
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
}

/* Offsets of each tap from the top-left input pixel of a window, in bytes. */
static inline void tap_offsets(const layer_t *layer, int32_t *offsets) {
  for (int32_t t = 0; t < layer->kh * layer->kw; t++) offsets[t] = ((t / layer->kw) * layer->in_w + t % layer->kw) * layer->in_c;
}

AVX2 static void avx2_depthwise_row(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) {
  const int32_t c_count = layer->in_c, kh = layer->kh, kw = layer->kw, full = c_count / 16 * 16;
  const int32_t iy0 = oy * layer->stride - layer->pad_top;
  const int rows_inside = iy0 >= 0 && iy0 + kh <= layer->in_h;
  int32_t offsets[15 * 15];
  tap_offsets(layer, offsets);
  for (int32_t ox = 0; ox < layer->out_w; ox++) {
    int32_t *out = acc + (size_t)ox * c_count;
    const int32_t ix0 = ox * layer->stride - layer->pad_left;
    if (rows_inside && ix0 >= 0 && ix0 + kw <= layer->in_w) {
      dw_interior_pairs(layer, in + ((size_t)iy0 * layer->in_w + ix0) * c_count, offsets, 0, full, out);
    } else {
      dw_border(layer, in, oy, ox, full, out);
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

/* quantize_value() on 8 lanes: the same division, NaN to 0, clamp, round to nearest even. */
AVX2 static void avx2_quantize(const float *src, size_t count, float scale, int8_t *dst) {
  const __m256 vscale = _mm256_set1_ps(scale), low = _mm256_set1_ps(-256.0f), high = _mm256_set1_ps(256.0f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(src + i), vscale);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    store_int8x8(dst + i, _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, low), high)));
  }
  effnet_int8_quantize_scalar(src + i, count - i, scale, dst + i);
}

/* AVX2 has no byte permute wider than 16 entries, and a pshufb cascade costs more than the scalar loads. */
const kernels_t effnet_int8_avx2_kernels = {
  EFFNET_INT8_ISA_AVX2, avx2_packed_size, avx2_pack_weights, avx2_pack_rows, avx2_gemm, NULL,
  avx2_requant, avx2_depthwise_row, avx2_quantize, effnet_int8_apply_table_scalar, avx2_residual,
};

/*
 * AVX-VNNI: vpdpbusd multiplies unsigned × signed bytes and adds four products into int32 with no intermediate
 * saturation, so it is exact for any int8 weights. Activations are biased to unsigned (x + 128, a sign-bit flip)
 * and the conv subtracts 128 · Σw per output channel, computed when the weights are packed. Everything but the
 * GEMM and its row packing is the AVX2 path.
 */
#define VNNI __attribute__((target("avx2,avxvnni")))

/* Depthwise, after the AVX2 layout: taps in groups of four per channel for vpdpbusd (see dw_quads_of). */
static size_t dw_quad_bytes(const layer_t *layer) {
  const size_t groups = ((size_t)layer->kh * layer->kw + 3) / 4, c32 = (size_t)round_up(layer->in_c, 32);
  return groups * c32 * 4 + c32 * sizeof(int32_t);
}

static size_t vnni_packed_size(const layer_t *layer) {
  if (layer->kind == KIND_CONV) return (size_t)layer->n_pad * layer->k_pad + sizeof(int32_t) * (size_t)layer->n_pad;
  if (layer->kind == KIND_DEPTHWISE) return avx2_packed_size(layer) + dw_quad_bytes(layer);
  return avx2_packed_size(layer);
}

/*
 * Per group of four taps and 32-channel block, four vectors in the order vpunpck{l,h}bw + vpunpck{l,h}wd leave
 * the inputs: vector i holds channels i·4..i·4+3 (low lane) and 16+i·4..16+i·4+3 (high lane), four tap weights each;
 * taps past the last are 0. Then int32 compensation[c] = 128 · Σ_taps w.
 */
static int8_t *dw_quads_of(const layer_t *layer) { return (int8_t *)layer->packed + avx2_packed_size(layer); }

static void vnni_pack_depthwise(layer_t *layer) {
  avx2_pack_weights(layer);
  const int32_t c_count = layer->in_c, taps = layer->kh * layer->kw, groups = (taps + 3) / 4, blocks = round_up(c_count, 32) / 32;
  int8_t *quads = dw_quads_of(layer);
  int32_t *compensation = (int32_t *)(quads + (size_t)groups * blocks * 128);
  for (int32_t g = 0; g < groups; g++) {
    for (int32_t b = 0; b < blocks; b++) {
      int8_t *out = quads + ((size_t)g * blocks + b) * 128;
      for (int32_t i = 0; i < 4; i++) {
        for (int32_t lane = 0; lane < 2; lane++) {
          for (int32_t j = 0; j < 4; j++) {
            const int32_t c = b * 32 + lane * 16 + i * 4 + j;
            for (int32_t q = 0; q < 4; q++) {
              const int32_t t = 4 * g + q;
              out[i * 32 + lane * 16 + j * 4 + q] = c < c_count && t < taps ? layer->weights[(size_t)t * c_count + c] : 0;
            }
          }
        }
      }
    }
  }
  for (int32_t c = 0; c < blocks * 32; c++) {
    int32_t sum = 0;
    for (int32_t t = 0; t < taps && c < c_count; t++) sum += layer->weights[(size_t)t * c_count + c];
    compensation[c] = 128 * sum;
  }
}

/* conv: [n_pad/8][k_pad/4][8 channels][4 k] bytes, then int32 compensation[n_pad]. */
static void vnni_pack_weights(layer_t *layer) {
  if (layer->kind == KIND_DEPTHWISE) {
    vnni_pack_depthwise(layer);
    return;
  }
  if (layer->kind != KIND_CONV) {
    avx2_pack_weights(layer);
    return;
  }
  const int32_t k_pad = layer->k_pad, quads = k_pad / 4;
  int8_t *packed = (int8_t *)layer->packed;
  int32_t *compensation = (int32_t *)(packed + (size_t)layer->n_pad * k_pad);
  for (int32_t o = 0; o < layer->n_pad; o++) {
    int32_t sum = 0;
    for (int32_t k = 0; k < k_pad; k++) {
      const int8_t w = o < layer->out_c ? layer->weights[(size_t)o * k_pad + k] : 0;
      packed[(((size_t)(o / 8) * quads + k / 4) * 8 + o % 8) * 4 + k % 4] = w;
      sum += w;
    }
    compensation[o] = 128 * sum;
  }
}

/* Rows as unsigned bytes (x + 128); the buffer is typed int16 for the other paths and holds k_pad bytes per row. */
VNNI static void vnni_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst_rows,
                                const float *gate, float in_scale, float out_scale) {
  const __m256 vin = _mm256_set1_ps(in_scale), vout = _mm256_set1_ps(out_scale);
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  uint8_t *dst = (uint8_t *)dst_rows;
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    uint8_t *out = dst + (size_t)r * k_pad;
    int32_t c = 0;
    if (gate) {
      for (; c + 16 <= k; c += 16) {
        const __m128i bytes = _mm_loadu_si128((const __m128i *)(row + c));
        const __m256i lo = gated8(bytes, gate + c, vin, vout);
        const __m256i hi = gated8(_mm_srli_si128(bytes, 8), gate + c + 8, vin, vout);
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
    for (; c < k; c++) out[c] = (uint8_t)((gate ? (int8_t)gated_value(row[c], in_scale, gate[c], out_scale) : row[c]) + 128);
    for (; c < k_pad; c++) out[c] = 0;
  }
}

static inline int32_t quad_at(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}


/* requantize() of one accumulator vector for channels [c, c+8) and its int8 store (partial at the last block). */
#define STORE_REQUANTIZED(ACC, COMP, ROW, C) \
  do { \
    if ((ROW) < valid_rows && (C) < out_c) { \
      const __m256i v = _mm256_add_epi32(_mm256_sub_epi32(ACC, COMP), _mm256_loadu_si256((const __m256i *)(layer->bias + (C)))); \
      const __m256i q = requantize8(v, _mm256_loadu_si256((const __m256i *)(layer->mult + (C))), _mm256_loadu_si256((const __m256i *)(layer->shift + (C)))); \
      int8_t *dst = out + (size_t)(ROW) * out_c + (C); \
      if ((C) + 8 <= out_c) { \
        store_int8x8(dst, q); \
      } else { \
        int8_t tail[8]; \
        store_int8x8(tail, q); \
        memcpy(dst, tail, (size_t)(out_c - (C))); \
      } \
    } \
  } while (0)

/*
 * The GEMM, 4 rows × 16 channels per tile and four k per instruction, with its requantize fused (the small-K convs at
 * high resolution are bound by the epilogue's memory traffic); one body for the VEX (AVX-VNNI) and EVEX (AVX-512)
 * encodings.
 */
#define VNNI_GEMM_REQUANT(NAME, ATTRIBUTES, DPBUSD) \
ATTRIBUTES static void NAME(const layer_t *layer, const int16_t *a_rows, int32_t rows, int32_t valid_rows, int8_t *out) { \
  const uint8_t *a = (const uint8_t *)a_rows; \
  const int32_t k_pad = layer->k_pad, quads = k_pad / 4, n_pad = layer->n_pad, blocks = n_pad / 8, out_c = layer->out_c; \
  const int8_t *packed = (const int8_t *)layer->packed; \
  const int32_t *compensation = (const int32_t *)(packed + (size_t)n_pad * k_pad); \
  for (int32_t nb = 0; nb < blocks; nb += 2) { \
    const int two = nb + 1 < blocks; \
    const int8_t *w0 = packed + (size_t)nb * quads * 32; \
    const int8_t *w1 = two ? w0 + (size_t)quads * 32 : w0; \
    const __m256i comp0 = _mm256_loadu_si256((const __m256i *)(compensation + (size_t)nb * 8)); \
    const __m256i comp1 = two ? _mm256_loadu_si256((const __m256i *)(compensation + (size_t)nb * 8 + 8)) : comp0; \
    const int32_t c0 = nb * 8, c1 = two ? nb * 8 + 8 : out_c; \
    for (int32_t r = 0; r < rows; r += 4) { \
      const uint8_t *a0 = a + (size_t)r * k_pad, *a1 = a0 + k_pad, *a2 = a1 + k_pad, *a3 = a2 + k_pad; \
      __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00; \
      for (int32_t q = 0; q < quads; q++) { \
        const __m256i v0 = _mm256_load_si256((const __m256i *)(w0 + (size_t)q * 32)); \
        const __m256i v1 = _mm256_load_si256((const __m256i *)(w1 + (size_t)q * 32)); \
        __m256i b = _mm256_set1_epi32(quad_at(a0 + 4 * q)); \
        c00 = DPBUSD(c00, b, v0); \
        c01 = DPBUSD(c01, b, v1); \
        b = _mm256_set1_epi32(quad_at(a1 + 4 * q)); \
        c10 = DPBUSD(c10, b, v0); \
        c11 = DPBUSD(c11, b, v1); \
        b = _mm256_set1_epi32(quad_at(a2 + 4 * q)); \
        c20 = DPBUSD(c20, b, v0); \
        c21 = DPBUSD(c21, b, v1); \
        b = _mm256_set1_epi32(quad_at(a3 + 4 * q)); \
        c30 = DPBUSD(c30, b, v0); \
        c31 = DPBUSD(c31, b, v1); \
      } \
      STORE_REQUANTIZED(c00, comp0, r, c0); \
      STORE_REQUANTIZED(c10, comp0, r + 1, c0); \
      STORE_REQUANTIZED(c20, comp0, r + 2, c0); \
      STORE_REQUANTIZED(c30, comp0, r + 3, c0); \
      STORE_REQUANTIZED(c01, comp1, r, c1); \
      STORE_REQUANTIZED(c11, comp1, r + 1, c1); \
      STORE_REQUANTIZED(c21, comp1, r + 2, c1); \
      STORE_REQUANTIZED(c31, comp1, r + 3, c1); \
    } \
  } \
}

VNNI_GEMM_REQUANT(vnni_gemm_requant, VNNI, _mm256_dpbusd_avx_epi32)

/*
 * Depthwise rows: interior pixels run 32-channel blocks four taps per vpdpbusd (inputs biased to unsigned and
 * interleaved per channel), then 16-channel blocks in pairs; border pixels and the last channels as on AVX2.
 */
#define VNNI_DEPTHWISE(NAME, ATTRIBUTES, DPBUSD) \
ATTRIBUTES static void NAME(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) { \
  const int32_t c_count = layer->in_c, kh = layer->kh, kw = layer->kw, taps = kh * kw; \
  const int32_t full16 = c_count / 16 * 16, full32 = c_count / 32 * 32, groups = (taps + 3) / 4, blocks = round_up(c_count, 32) / 32; \
  const int32_t iy0 = oy * layer->stride - layer->pad_top; \
  const int rows_inside = iy0 >= 0 && iy0 + kh <= layer->in_h; \
  const int8_t *quads = dw_quads_of(layer); \
  const int32_t *compensation = (const int32_t *)(quads + (size_t)groups * blocks * 128); \
  const __m256i flip = _mm256_set1_epi8((char)0x80); \
  int32_t offsets[15 * 15 + 3]; \
  tap_offsets(layer, offsets); \
  for (int32_t t = taps; t < groups * 4; t++) offsets[t] = 0; /* zero-weight slots read tap 0 */ \
  for (int32_t ox = 0; ox < layer->out_w; ox++) { \
    int32_t *out = acc + (size_t)ox * c_count; \
    const int32_t ix0 = ox * layer->stride - layer->pad_left; \
    if (!(rows_inside && ix0 >= 0 && ix0 + kw <= layer->in_w)) { \
      dw_border(layer, in, oy, ox, full16, out); \
      for (int32_t c = full16; c < c_count; c++) out[c] = depthwise_value(layer, in, oy, ox, c); \
      continue; \
    } \
    const int8_t *base = in + ((size_t)iy0 * layer->in_w + ix0) * c_count; \
    for (int32_t c = 0; c < full32; c += 32) { \
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0; \
      const int8_t *w = quads + (size_t)(c / 32) * 128; \
      for (int32_t g = 0; g < groups; g++, w += (size_t)blocks * 128) { \
        const int32_t *o = offsets + 4 * g; \
        const __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + o[0] + c)), flip); \
        const __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + o[1] + c)), flip); \
        const __m256i x2 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + o[2] + c)), flip); \
        const __m256i x3 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + o[3] + c)), flip); \
        const __m256i l01 = _mm256_unpacklo_epi8(x0, x1), l23 = _mm256_unpacklo_epi8(x2, x3); \
        const __m256i h01 = _mm256_unpackhi_epi8(x0, x1), h23 = _mm256_unpackhi_epi8(x2, x3); \
        a0 = DPBUSD(a0, _mm256_unpacklo_epi16(l01, l23), _mm256_load_si256((const __m256i *)w)); \
        a1 = DPBUSD(a1, _mm256_unpackhi_epi16(l01, l23), _mm256_load_si256((const __m256i *)(w + 32))); \
        a2 = DPBUSD(a2, _mm256_unpacklo_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 64))); \
        a3 = DPBUSD(a3, _mm256_unpackhi_epi16(h01, h23), _mm256_load_si256((const __m256i *)(w + 96))); \
      } \
      const __m256i c0 = _mm256_loadu_si256((const __m256i *)(compensation + c)); \
      const __m256i c1 = _mm256_loadu_si256((const __m256i *)(compensation + c + 8)); \
      const __m256i c2 = _mm256_loadu_si256((const __m256i *)(compensation + c + 16)); \
      const __m256i c3 = _mm256_loadu_si256((const __m256i *)(compensation + c + 24)); \
      _mm256_storeu_si256((__m256i *)(out + c), _mm256_sub_epi32(_mm256_permute2x128_si256(a0, a1, 0x20), c0)); \
      _mm256_storeu_si256((__m256i *)(out + c + 8), _mm256_sub_epi32(_mm256_permute2x128_si256(a2, a3, 0x20), c1)); \
      _mm256_storeu_si256((__m256i *)(out + c + 16), _mm256_sub_epi32(_mm256_permute2x128_si256(a0, a1, 0x31), c2)); \
      _mm256_storeu_si256((__m256i *)(out + c + 24), _mm256_sub_epi32(_mm256_permute2x128_si256(a2, a3, 0x31), c3)); \
    } \
    dw_interior_pairs(layer, base, offsets, full32, full16, out); \
    for (int32_t c = full16; c < c_count; c++) out[c] = depthwise_value(layer, in, oy, ox, c); \
  } \
}

VNNI_DEPTHWISE(vnni_depthwise_row, VNNI, _mm256_dpbusd_avx_epi32)

const kernels_t effnet_int8_avx_vnni_kernels = {
  EFFNET_INT8_ISA_AVX_VNNI, vnni_packed_size, vnni_pack_weights, vnni_pack_rows, NULL, vnni_gemm_requant,
  avx2_requant, vnni_depthwise_row, avx2_quantize, effnet_int8_apply_table_scalar, avx2_residual,
};

/*
 * AVX-512 (F, BW, VL, VNNI, VBMI): the same GEMM with the EVEX vpdpbusd (CPUs with AVX-512 VNNI need not have
 * AVX-VNNI), and the SiLU tables with two vpermi2b (128 entries each) and a blend on the index's top bit:
 * 64 lookups in a handful of instructions instead of 64 dependent loads.
 */
#define AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))

VNNI_DEPTHWISE(avx512_depthwise_row, AVX512, _mm256_dpbusd_epi32)
VNNI_GEMM_REQUANT(avx512_gemm_requant, AVX512, _mm256_dpbusd_epi32)

AVX512 static void avx512_apply_table(int8_t *data, size_t count, const int8_t *table) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  size_t i = 0;
  for (; i + 64 <= count; i += 64) {
    const __m512i idx = _mm512_loadu_si512(data + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1), high = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_storeu_si512(data + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
  }
  effnet_int8_apply_table_scalar(data + i, count - i, table);
}

const kernels_t effnet_int8_avx512_kernels = {
  EFFNET_INT8_ISA_AVX512, vnni_packed_size, vnni_pack_weights, vnni_pack_rows, NULL, avx512_gemm_requant,
  avx2_requant, avx512_depthwise_row, avx2_quantize, avx512_apply_table, avx2_residual,
};
#endif
