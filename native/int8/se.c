/* The squeeze-excitation block's vector math, on the calling thread (one value per channel). */
#include <math.h>
#include <string.h>

#include "engine.h"

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
  for (int32_t r = 0; r < reduced; r++) {
    const int8_t *w = se->fc1_weights + (size_t)r * c_count;
    int32_t sum = 0;
    for (int32_t c = 0; c < c_count; c++) sum += e->pooled[c] * w[c];
    values[r] = (float)sum * se->fc1_scale[r] + se->fc1_bias[r];
  }
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
  for (int32_t c = 0; c < c_count; c++) logit[c] = exp(-logit[c]);
  for (int32_t c = 0; c < c_count; c++) values[c] = (float)(1.0 / (1.0 + logit[c]));
  for (int32_t c = 0; c < c_count; c++) {
    e->gate[c] = (float)(quantize_value_around(values[c], se->gate_scale, se->gate_zero) - se->gate_zero) * se->gate_scale;
  }
}
