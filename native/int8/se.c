/* The squeeze-excitation block's vector math, on the calling thread (one value per channel). */
#include <math.h>
#include <string.h>

#include "engine.h"

/*
 * values[i] = e^-values[i] within a few ulp of libm's exp, as a loop the compiler vectorizes (libm's exp, one call per
 * channel, was most of the SE block's time). Cody–Waite: -x = k ln2 + r with k·LN2_HI exact, |r| ≤ ln2/2, then
 * e^r by its Taylor polynomial to r^13 (remainder below 2^-57) and 2^k built in the exponent bits. Arguments are
 * clamped to ±700, where the sigmoid's float is already 0 or 1 (as libm's overflow to ∞ or 0 gives). Separate
 * multiplies and adds, so every path and compiler rounds alike.
 */
CLONES static void exp_of_negated(double *values, int32_t count) {
  const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10, LOG2_E = 1.44269504088896338700e+00;
  const double SHIFTER = 6755399441055744.0; /* 1.5 · 2^52: adding it rounds to an integer held in the low bits */
  for (int32_t i = 0; i < count; i++) {
    double x = -values[i];
    x = x < -700.0 ? -700.0 : x > 700.0 ? 700.0 : x;
    const double shifted = x * LOG2_E + SHIFTER, k = shifted - SHIFTER;
    const double r = (x - k * LN2_HI) - k * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    /* `shifted`'s bits are 0x4338000000000000 + k; shifted left by 52 only k + 1023 is left, in the exponent field: 2^k
     * (|k| ≤ 1010, a normal double). */
    const uint64_t scale_bits = (bits + 1023) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    values[i] = p * scale;
  }
}

/*
 * The squeeze-excitation vector math as the Q/DQ graph computes it: GAP → Q, FC1 → Q → SiLU table, FC2 → Sigmoid → Q.
 * The FC outputs and the gate's Sigmoid input are floats in the graph (one value per channel, so float costs nothing).
 */
CLONES void run_se(effnet_int8_engine *e, const se_layer_t *se) {
  const int32_t c_count = se->in_c, reduced = se->reduced;
  const double pool_scale = (double)se->in_scale / ((double)se->in_h * se->in_w);
  float *values = e->se_values;
  int32_t *acc = e->se_acc;
  const int64_t zero_sum = (int64_t)se->in_zero * se->in_h * se->in_w;
  for (int32_t c = 0; c < c_count; c++) {
    int64_t sum = -zero_sum;
    for (int32_t t = 0; t < e->threads; t++) sum += e->scratch[t].pool[c];
    values[c] = (float)(sum * pool_scale);
  }
  e->kernels->quantize(values, (size_t)c_count, se->pool_scale, e->pooled);
  /* FC1 has the classifier's shape (int8 rows · the int8 pooled vector): the path's classifier kernel. */
  e->kernels->classifier(e->pooled, se->fc1_weights, c_count, 0, reduced, acc);
  for (int32_t r = 0; r < reduced; r++) values[r] = (float)acc[r] * se->fc1_scale[r] + se->fc1_bias[r];
  e->kernels->quantize(values, (size_t)reduced, se->fc1_out_scale, e->fc1_out);
  for (int32_t r = 0; r < reduced; r++) e->fc1_out[r] = se->fc1_table[(uint8_t)e->fc1_out[r]];
  memset(acc, 0, sizeof(int32_t) * (size_t)c_count);
  for (int32_t r = 0; r < reduced; r++) {
    const int8_t *w = se->fc2_weights + (size_t)r * c_count;
    const int32_t x = e->fc1_out[r] - se->fc1_act_zero;
    for (int32_t c = 0; c < c_count; c++) acc[c] += x * w[c];
  }
  if (se->gate_table) {
    /* The graph quantizes the FC2 output and its Sigmoid reads that int8 value: a table. */
    int8_t *quantized = e->staging;
    for (int32_t c = 0; c < c_count; c++) values[c] = (float)acc[c] * se->fc2_scale[c] + se->fc2_bias[c];
    e->kernels->quantize(values, (size_t)c_count, se->fc2_out_scale, quantized);
    for (int32_t c = 0; c < c_count; c++) e->gate[c] = se->gate_table[(uint8_t)quantized[c]];
    return;
  }
  /* Bundles whose FC2 output is float: the Sigmoid of it in double (the graph's float32 conv and Sigmoid carry their own
   * rounding; the exact value is the fairest target). In stages, so that all but exp run on vectors. */
  double *logit = e->se_logits;
  for (int32_t c = 0; c < c_count; c++) logit[c] = (double)acc[c] * se->fc2_scale[c] + se->fc2_bias[c];
  exp_of_negated(logit, c_count);
  for (int32_t c = 0; c < c_count; c++) values[c] = (float)(1.0 / (1.0 + logit[c]));
  for (int32_t c = 0; c < c_count; c++) {
    e->gate[c] = (float)(quantize_value_around(values[c], se->gate_scale, se->gate_zero) - se->gate_zero) * se->gate_scale;
  }
}
