/* The portable path: plain C over the natural weight layout. It defines the results every SIMD path must equal. */
#include <string.h>

#include "internal.h"

static size_t scalar_packed_size(const layer_t *layer) {
  (void)layer;
  return 0;
}

static void scalar_pack_weights(layer_t *layer) { (void)layer; }

static void scalar_pack_rows(const int8_t *src, int32_t rows, int32_t k, int32_t k_pad, int16_t *dst,
                             const float *gate, const gated_input_t *g) {
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = src + (size_t)r * k;
    int16_t *out = dst + (size_t)r * k_pad;
    if (gate) {
      for (int32_t c = 0; c < k; c++) out[c] = gated_value(row[c], g, gate[c]);
    } else {
      for (int32_t c = 0; c < k; c++) out[c] = row[c];
    }
    for (int32_t c = k; c < k_pad; c++) out[c] = 0;
  }
}

static void scalar_gemm(const layer_t *layer, const int16_t *a, int32_t rows, int32_t *acc) {
  const int32_t k_pad = layer->conv.k_pad, n = layer->conv.out_c, n_pad = layer->conv.n_pad;
  for (int32_t r = 0; r < rows; r++) {
    const int16_t *row = a + (size_t)r * k_pad;
    for (int32_t o = 0; o < n; o++) {
      const int8_t *w = layer->conv.weights + (size_t)o * k_pad;
      int32_t sum = 0;
      for (int32_t c = 0; c < k_pad; c++) sum += row[c] * w[c];
      acc[(size_t)r * n_pad + o] = sum;
    }
  }
}

static void scalar_requant(const int32_t *acc, int32_t rows, int32_t n, int32_t acc_stride, const int32_t *bias,
                           const int32_t *mult, const int32_t *shift, int8_t *out) {
  for (int32_t r = 0; r < rows; r++) {
    for (int32_t c = 0; c < n; c++) {
      out[(size_t)r * n + c] = clamp_int8(requantize(acc[(size_t)r * acc_stride + c] + bias[c], mult[c], shift[c]));
    }
  }
}

static void scalar_depthwise_row(const layer_t *layer, const int8_t *in, int32_t oy, int32_t *acc) {
  const int32_t c_count = layer->conv.in_c, kh = layer->conv.kh, kw = layer->conv.kw, stride = layer->conv.stride;
  memset(acc, 0, sizeof(int32_t) * (size_t)layer->conv.out_w * c_count);
  for (int32_t ky = 0; ky < kh; ky++) {
    const int32_t iy = oy * stride - layer->conv.pad_top + ky;
    if (iy < 0 || iy >= layer->conv.in_h) continue;
    for (int32_t ox = 0; ox < layer->conv.out_w; ox++) {
      int32_t *out = acc + (size_t)ox * c_count;
      for (int32_t kx = 0; kx < kw; kx++) {
        const int32_t ix = ox * stride - layer->conv.pad_left + kx;
        if (ix < 0 || ix >= layer->conv.in_w) continue;
        const int8_t *x = in + ((size_t)iy * layer->conv.in_w + ix) * c_count;
        const int8_t *w = layer->conv.weights + (size_t)(ky * kw + kx) * c_count;
        for (int32_t c = 0; c < c_count; c++) out[c] += x[c] * w[c];
      }
    }
  }
}

static void scalar_residual(int8_t *main, const int8_t *skip, int32_t count, float main_scale, float skip_scale, float out_scale) {
  for (int32_t i = 0; i < count; i++) main[i] = residual_value(main[i], skip[i], main_scale, skip_scale, out_scale);
}

void effnet_int8_quantize_scalar(const float *src, size_t count, float scale, int8_t *dst) {
  for (size_t i = 0; i < count; i++) dst[i] = quantize_value(src[i], scale);
}

CLONES void effnet_int8_classifier_scalar(const int8_t *pooled, const int8_t *weights, int32_t in_c, int32_t begin, int32_t end, int32_t *dots) {
  for (int32_t o = begin; o < end; o++) {
    const int8_t *w = weights + (size_t)o * in_c;
    int32_t acc = 0;
    for (int32_t c = 0; c < in_c; c++) acc += pooled[c] * w[c];
    dots[o - begin] = acc;
  }
}

void effnet_int8_apply_table_scalar(int8_t *data, size_t count, const int8_t *table) {
  for (size_t i = 0; i < count; i++) data[i] = table[(uint8_t)data[i]];
}

const kernels_t effnet_int8_scalar_kernels = {
  .isa = EFFNET_INT8_ISA_SCALAR, .packed_size = scalar_packed_size, .pack_weights = scalar_pack_weights,
  .pack_rows = scalar_pack_rows, .gemm = scalar_gemm, .requant = scalar_requant, .depthwise_row = scalar_depthwise_row,
  .classifier = effnet_int8_classifier_scalar, .quantize = effnet_int8_quantize_scalar,
  .apply_table = effnet_int8_apply_table_scalar, .residual = scalar_residual,
};
