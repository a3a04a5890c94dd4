/*
 * A tiny driver for testing the engine where Node cannot run (aarch64 under qemu-user in CI): runs one engine file
 * on every instruction-set path this build and CPU have, with 1 and 2 threads, and writes each output to
 * <out>.<path>.<threads>. Test use only; built by test/runtime/int8/neon.test.ts, not by CMake.
 *
 *   check quantized ENGINE INPUT.i8 OUT COUNT      int8 NHWC in → the last layer's int8 NHWC out (COUNT bytes)
 *   check logits ENGINE INPUT.f32 OUT BATCH         float NCHW in → float logits out
 *   check histogram VALUES.f32 OUT BINS INVERSE     calibration's binning: OUT gets the counts (float64 × BINS), the
 *                                                   outside count (int64), the max (float32) and the first 16 values
 *                                                   outside (float32 × 16)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../effnet_int8.h"

static void *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *data = malloc(n > 0 ? (size_t)n : 1);
  *size = fread(data, 1, (size_t)n, f);
  fclose(f);
  return data;
}

#define SPILLED 16

static int histogram(const char *values_path, const char *out_path, int32_t bins, double inverse) {
  size_t size = 0;
  float *values = slurp(values_path, &size);
  double *counts = calloc((size_t)bins, sizeof(double));
  float spill[SPILLED] = {0}, max = 0;
  if (!values || !counts) return 1;
  const int64_t outside = effnet_int8_abs_histogram(values, size / sizeof(float), inverse, counts, bins, spill, SPILLED, &max);
  FILE *f = fopen(out_path, "wb");
  if (outside < 0 || !f || fwrite(counts, sizeof(double), (size_t)bins, f) != (size_t)bins ||
      fwrite(&outside, sizeof outside, 1, f) != 1 || fwrite(&max, sizeof max, 1, f) != 1 ||
      fwrite(spill, sizeof(float), SPILLED, f) != SPILLED)
    return 1;
  fclose(f);
  printf("%s\n", out_path);
  free(values);
  free(counts);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: check quantized|logits ENGINE INPUT OUT COUNT|BATCH, or check histogram VALUES OUT BINS INVERSE\n");
    return 2;
  }
  if (strcmp(argv[1], "histogram") == 0) return histogram(argv[2], argv[3], (int32_t)atol(argv[4]), atof(argv[5]));
  char error[512];
  effnet_int8_engine *engine = NULL;
  if (effnet_int8_load(argv[2], &engine, error, sizeof error) != EFFNET_INT8_OK) {
    fprintf(stderr, "load: %s\n", error);
    return 1;
  }
  size_t input_size = 0;
  void *input = slurp(argv[3], &input_size);
  if (!input) {
    fprintf(stderr, "cannot read %s\n", argv[3]);
    return 1;
  }
  effnet_int8_info info;
  effnet_int8_get_info(engine, &info);
  const int logits = strcmp(argv[1], "logits") == 0;
  const long n = atol(argv[5]);
  const size_t out_count = logits ? (size_t)n * info.classes : (size_t)n;
  void *out = malloc(out_count * (logits ? sizeof(float) : 1));
  const char *names[] = {"", "scalar", "avx2", "neon", "avx-vnni", "avx512"};
  for (int isa = 1; isa <= 5; isa++) {
    if (!effnet_int8_isa_supported(isa)) continue;
    for (int threads = 1; threads <= 2; threads++) {
      if (effnet_int8_set_isa(engine, isa, error, sizeof error) != EFFNET_INT8_OK ||
          effnet_int8_set_threads(engine, threads, error, sizeof error) != EFFNET_INT8_OK) {
        fprintf(stderr, "%s: %s\n", names[isa], error);
        return 1;
      }
      effnet_int8_status status = logits
        ? effnet_int8_run(engine, input, (int32_t)n, info.channels, info.height, info.width, out, out_count, error, sizeof error)
        : effnet_int8_run_quantized(engine, input, input_size, out, out_count, error, sizeof error);
      if (status != EFFNET_INT8_OK) {
        fprintf(stderr, "run (%s): %s\n", names[isa], error);
        return 1;
      }
      char path[4096];
      snprintf(path, sizeof path, "%s.%s.%d", argv[4], names[isa], threads);
      FILE *f = fopen(path, "wb");
      if (!f || fwrite(out, logits ? sizeof(float) : 1, out_count, f) != out_count) return 1;
      fclose(f);
      printf("%s\n", path);
    }
  }
  effnet_int8_free(engine);
  free(input);
  free(out);
  return 0;
}
