/*
 * The AVX-512 gated pack (kernels_avx512.c: one product per value, the graph's operations only near a half) against
 * gated_value(), the integer semantics, on random and on adversarial values: gates chosen so that the quotient lands
 * on or within a few ulp of a half, binary-fraction scales whose products are exact ties, zero points of both signs.
 * Built and run by test/runtime/int8/gatedPack.test.ts; prints "<mismatches> mismatches of <values>, <near> near a half".
 * Usage: gated_check [trials]
 */
#include "../kernels_avx512.c"

#include <stdio.h>
#include <stdlib.h>

static uint32_t state = 12345;
static uint32_t next(void) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}
static float unit(void) { return (float)(next() & 0xffffff) / 16777216.0f; }

enum { CHANNELS = 128 };

int main(int argc, char **argv) {
  if (!effnet_int8_isa_supported(EFFNET_INT8_ISA_AVX512)) {
    printf("no AVX-512 here\n");
    return 2;
  }
  const long trials = argc > 1 ? atol(argv[1]) : 200000;
  long mismatches = 0, values = 0, near = 0;
  for (long trial = 0; trial < trials; trial++) {
    gated_input_t g = {0};
    const int kind = (int)(trial % 4);
    g.in_scale = kind == 0 ? 0.5f : 0.001f + unit() * 0.1f;
    g.out_scale = kind == 0 ? 0.25f : 0.001f + unit() * 0.1f;
    g.in_zero = trial % 3 ? (int32_t)(next() % 256) - 128 : 0;
    g.out_zero = trial % 3 ? (int32_t)(next() % 256) - 128 : 0;
    float gate[CHANNELS];
    int8_t src[CHANNELS];
    for (int c = 0; c < CHANNELS; c++) {
      src[c] = (int8_t)((int32_t)(next() % 256) - 128);
      if (kind == 0) {
        /* Eighths, some one ulp above: exact ties and values one ulp off them. */
        gate[c] = (float)(next() % 8) / 8.0f * ((next() & 1) ? 1.0f + ldexpf(1.0f, -23) : 1.0f);
      } else if (kind == 1) {
        /* The gate that puts (x - in_zero) · in_scale · gate / out_scale on a half, as near as a float gets. */
        const int32_t x = 1 + (int32_t)(next() % 100);
        src[c] = (int8_t)(x + g.in_zero > 127 ? 127 : x + g.in_zero);
        const float half = (float)(next() % 50) + 0.5f;
        gate[c] = half * g.out_scale / ((float)(src[c] - g.in_zero) * g.in_scale);
        if (!(gate[c] <= 1.0f)) gate[c] = 1.0f;
      } else {
        gate[c] = unit();
      }
    }
    int16_t packed[CHANNELS];
    avx512_pack_rows(src, 1, CHANNELS, CHANNELS, packed, gate, &g);
    const uint8_t *out = (const uint8_t *)packed;
    for (int c = 0; c < CHANNELS; c++) {
      const float q = (float)(src[c] - g.in_zero) * g.in_scale * gate[c] / g.out_scale;
      if (fabsf(q - nearbyintf(q)) > 0.5f - 1.0f / 2048) near++;
      const uint8_t want = (uint8_t)((int8_t)gated_value(src[c], &g, gate[c]) + 128);
      values++;
      if (out[c] != want) {
        if (mismatches < 5) {
          fprintf(stderr, "x %d gate %.9g in %.9g/%d out %.9g/%d: %d, gated_value %d\n", src[c], gate[c], g.in_scale,
                  g.in_zero, g.out_scale, g.out_zero, out[c] - 128, want - 128);
        }
        mismatches++;
      }
    }
  }
  printf("%ld mismatches of %ld, %ld near a half\n", mismatches, values, near);
  return mismatches ? 1 : 0;
}
