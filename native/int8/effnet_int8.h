/*
 * effnet_int8: a fused int8 inference engine for EfficientNet on CPUs (x86-64 AVX2, aarch64 NEON, portable C).
 *
 * The engine runs one compact file written by effnet-edge from a bundle's Q/DQ model (toolkit/runtime/int8/engineFile.ts
 * documents the format and native/int8/README.md the integer semantics). Every path (scalar, AVX2, AVX-VNNI, AVX-512, NEON) gives
 * bit-identical int8 activations and therefore identical logits.
 *
 * Memory: load allocates the weights and one arena sized from the layer table; set_threads allocates per-thread
 * scratch. Nothing is allocated per inference. An engine is not re-entrant: one run at a time per engine.
 */
#ifndef EFFNET_INT8_H
#define EFFNET_INT8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EFFNET_INT8_ABI_VERSION 4
/* The engine file format this library reads. */
#define EFFNET_INT8_FILE_VERSION 2

typedef enum {
  EFFNET_INT8_OK = 0,
  EFFNET_INT8_INVALID_ARGUMENT = 1,
  EFFNET_INT8_FILE_ERROR = 2,
  EFFNET_INT8_FORMAT_ERROR = 3,
  EFFNET_INT8_VERSION_MISMATCH = 4,
  EFFNET_INT8_UNSUPPORTED = 5,
  EFFNET_INT8_OUT_OF_MEMORY = 6
} effnet_int8_status;

/* Instruction-set paths; AUTO picks the best the CPU supports (AVX-512, AVX-VNNI, AVX2, NEON, scalar). */
typedef enum {
  EFFNET_INT8_ISA_AUTO = 0,
  EFFNET_INT8_ISA_SCALAR = 1,
  EFFNET_INT8_ISA_AVX2 = 2,
  EFFNET_INT8_ISA_NEON = 3,
  EFFNET_INT8_ISA_AVX_VNNI = 4,
  EFFNET_INT8_ISA_AVX512 = 5
} effnet_int8_isa;

typedef struct effnet_int8_engine effnet_int8_engine;

typedef struct {
  int32_t channels;
  int32_t height;
  int32_t width;
  int32_t classes;
  int32_t layers;
  int32_t isa;
  int32_t threads;
  int64_t arena_bytes;
  int64_t weight_bytes;
  int64_t macs; /* multiply-accumulates per image */
} effnet_int8_info;

typedef struct {
  int32_t kind;  /* 1 conv, 2 depthwise, 3 squeeze-excitation, 4 head */
  int32_t block; /* 0 stem, 1..N the MBConv blocks, N+1 head (as the writer numbered them) */
  int64_t macs;
  double total_ms; /* accumulated while profiling is on */
  int32_t float_requant; /* 1: the path requantizes in float32, exact for this layer's weights and biases */
} effnet_int8_layer_stats;

int32_t effnet_int8_abi_version(void);
/* Whether this build and CPU can run `isa` (AUTO: always). */
int32_t effnet_int8_isa_supported(int32_t isa);

effnet_int8_status effnet_int8_load(const char *path, effnet_int8_engine **engine, char *error, size_t error_size);
effnet_int8_status effnet_int8_load_memory(const void *data, size_t size, effnet_int8_engine **engine, char *error, size_t error_size);
void effnet_int8_free(effnet_int8_engine *engine);

effnet_int8_status effnet_int8_get_info(const effnet_int8_engine *engine, effnet_int8_info *info);
effnet_int8_status effnet_int8_set_isa(effnet_int8_engine *engine, int32_t isa, char *error, size_t error_size);
/*
 * Threads for effnet_int8_run: an image runs layer by layer on all of them (each layer split between them), and a batch
 * runs whole rounds of one image per thread (no waiting between layers), the rest layer by layer. Each thread beyond the
 * first holds its own arena (arena_bytes) and per-thread scratch. Profiling times only images run layer by layer.
 */
effnet_int8_status effnet_int8_set_threads(effnet_int8_engine *engine, int32_t threads, char *error, size_t error_size);
/*
 * Whether an image outside the whole rounds of a batch (every image of batch 1) runs layer by layer on all threads
 * (1, the default) or on the calling thread alone (0). Other processes keeping cores busy make a split image wait
 * for its descheduled threads at every layer, while whole rounds still gain from every thread's share of the CPU.
 */
effnet_int8_status effnet_int8_set_image_split(effnet_int8_engine *engine, int32_t enabled);
effnet_int8_status effnet_int8_set_profiling(effnet_int8_engine *engine, int32_t enabled);
effnet_int8_status effnet_int8_layer_stats_at(const effnet_int8_engine *engine, int32_t index, effnet_int8_layer_stats *stats);

/* Float NCHW input [batch, C, H, W] (already normalised, as the Q/DQ model's input) → float logits [batch, classes]. */
effnet_int8_status effnet_int8_run(effnet_int8_engine *engine, const float *input, int32_t batch, int32_t channels,
                                   int32_t height, int32_t width, float *logits, size_t logits_count, char *error,
                                   size_t error_size);

/*
 * For kernel tests: int8 NHWC input (the input slot's quantized tensor) → the int8 NHWC tensor the last layer writes
 * (an engine whose last layer is not the head). `output_count` must equal that tensor's size.
 */
effnet_int8_status effnet_int8_run_quantized(effnet_int8_engine *engine, const int8_t *input, size_t input_count,
                                             int8_t *output, size_t output_count, char *error, size_t error_size);

/*
 * Calibration's histogram binning, not the engine's: for each value, bin = trunc(|(double)x| · inverse); a bin below
 * `bins` adds one to counts[bin], the others (and NaN) are counted in the return value, the first `outside_capacity`
 * of them stored in `outside` as |x|. *max_abs: the largest |x|, NaN ignored. Double arithmetic, so the counts are
 * calibration/calibrate/histogram.ts's own. Returns -1 for an invalid argument (bins ≤ 0, inverse not finite and
 * positive), -2 when out of memory.
 */
int64_t effnet_int8_abs_histogram(const float *values, size_t count, double inverse, double *counts, int32_t bins,
                                  float *outside, size_t outside_capacity, float *max_abs);

/*
 * effnet_int8_abs_histogram on a background thread of the library's own, so that binning one run's activations
 * overlaps the next run: queues the job and returns at once (-2 when out of memory, else 0). Jobs run one at a time,
 * in order. Every buffer must stay valid and untouched until effnet_int8_abs_histogram_drain returns; then
 * result[0] holds what effnet_int8_abs_histogram returned and result[1] the largest |x|.
 */
int32_t effnet_int8_abs_histogram_queue(const float *values, size_t count, double inverse, double *counts, int32_t bins,
                                        float *outside, size_t outside_capacity, double *result);

/* Waits until every queued binning job has finished. */
void effnet_int8_abs_histogram_drain(void);

#ifdef __cplusplus
}
#endif

#endif
