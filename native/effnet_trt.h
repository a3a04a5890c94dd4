/*
 * effnet_trt: a small C ABI over TensorRT 8.0 … 11.x for effnet-edge (called from Node through koffi).
 *
 * Rules of the boundary: opaque handles only; the shim's own enums (never raw TensorRT values, which differ between
 * versions); every call returns an effnet_trt_status and, on failure, writes a NUL-terminated message into the
 * caller's buffer (truncated to its size); no C++ exception, TensorRT object or callback crosses it.
 */
#ifndef EFFNET_TRT_H
#define EFFNET_TRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EFFNET_TRT_ABI_VERSION 2
#define EFFNET_TRT_MAX_DIMS 8

typedef enum effnet_trt_status {
  EFFNET_TRT_OK = 0,
  EFFNET_TRT_INVALID_ARGUMENT = 1,
  EFFNET_TRT_FILE_ERROR = 2,
  EFFNET_TRT_PARSE_ERROR = 3,
  EFFNET_TRT_BUILD_ERROR = 4,
  EFFNET_TRT_RUNTIME_ERROR = 5,
  EFFNET_TRT_CUDA_ERROR = 6,
  EFFNET_TRT_UNSUPPORTED = 7
} effnet_trt_status;

typedef enum effnet_trt_precision {
  EFFNET_TRT_FP32 = 0,
  EFFNET_TRT_FP16 = 1,
  EFFNET_TRT_INT8 = 2
} effnet_trt_precision;

typedef enum effnet_trt_quant_mode {
  /* Q/DQ nodes in the ONNX graph carry the scales (the primary path; the only one in TensorRT 11). */
  EFFNET_TRT_EXPLICIT_QDQ = 0,
  /* Float ONNX + a calibration cache read by an IInt8EntropyCalibrator2 that never calibrates (8.x/10.x, DLA; gone in
   * 11). The cache's first line must be `TRT-<getInferLibVersion()>-EntropyCalibration2`: TensorRT ignores a cache
   * from another release and rejects one written for another calibrator, and then calibrates on no data. */
  EFFNET_TRT_IMPLICIT_CACHE = 1
} effnet_trt_quant_mode;

typedef enum effnet_trt_typing {
  /* Precision from builder flags (fp16/int8), TensorRT picks per layer: 8.x/10.x; removed in 11. */
  EFFNET_TRT_TYPING_WEAK = 0,
  /* Strongly typed network: every tensor's type comes from the ONNX (fp16 needs an fp16 graph), no precision flags:
   * 10.x (NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) and the only mode of 11. */
  EFFNET_TRT_TYPING_STRONG = 1
} effnet_trt_typing;

typedef enum effnet_trt_verbosity {
  EFFNET_TRT_PROFILE_LAYER_NAMES = 0,
  EFFNET_TRT_PROFILE_NONE = 1,
  EFFNET_TRT_PROFILE_DETAILED = 2
} effnet_trt_verbosity;

typedef enum effnet_trt_dtype {
  EFFNET_TRT_DTYPE_FLOAT = 0,
  EFFNET_TRT_DTYPE_HALF = 1,
  EFFNET_TRT_DTYPE_INT8 = 2,
  EFFNET_TRT_DTYPE_INT32 = 3,
  EFFNET_TRT_DTYPE_OTHER = 99
} effnet_trt_dtype;

typedef struct effnet_trt_version {
  int32_t major;
  int32_t minor;
  int32_t patch;
  /* As TensorRT encodes it (getInferLibVersion(), the calibration cache header): 8601 for 8.6.1, 100300 for 10.3.0. */
  int32_t encoded;
} effnet_trt_version;

typedef struct effnet_trt_build_options {
  int32_t precision;      /* effnet_trt_precision */
  int32_t quant_mode;     /* effnet_trt_quant_mode */
  const char *cache_path; /* calibration cache, for EFFNET_TRT_IMPLICIT_CACHE; NULL otherwise */
  int32_t workspace_mib;
  int32_t dla_core;       /* -1: GPU */
  int32_t gpu_fallback;   /* 1: layers DLA cannot run fall back to the GPU */
  const char *timing_cache_path; /* read if present, written after the build; NULL: none */
  int32_t verbosity;      /* effnet_trt_verbosity */
  /* The optimisation profile's batch sizes, min <= opt <= max; DLA needs min = opt = max (a static batch). */
  int32_t min_batch;
  int32_t opt_batch;
  int32_t max_batch;
  int32_t typing;         /* effnet_trt_typing */
} effnet_trt_build_options;

typedef struct effnet_trt_tensor_info {
  char name[256];
  int32_t is_input;
  int32_t dtype;          /* effnet_trt_dtype */
  int32_t nb_dims;
  int64_t dims[EFFNET_TRT_MAX_DIMS]; /* -1 for dynamic dimensions */
} effnet_trt_tensor_info;

typedef struct effnet_trt_device {
  char name[256];
  int32_t sm_major;       /* compute capability: engines are built for one */
  int32_t sm_minor;
  int64_t memory_bytes;
  int32_t dla_cores;
} effnet_trt_device;

typedef struct effnet_trt_engine effnet_trt_engine;

/* The shim's ABI version (EFFNET_TRT_ABI_VERSION); callers refuse a library whose version differs. */
int32_t effnet_trt_abi_version(void);

/* TensorRT the shim was compiled against and the one loaded at run time. */
effnet_trt_status effnet_trt_versions(effnet_trt_version *compiled, effnet_trt_version *loaded, char *error, size_t error_size);

/* The current CUDA device (name, SM, memory) and how many DLA cores TensorRT sees: the engine cache keys on the SM. */
effnet_trt_status effnet_trt_device_info(effnet_trt_device *device, char *error, size_t error_size);

/* Parses `onnx_path`, builds an engine with `options` and writes its serialized plan to `engine_path`. The
 * builder's log (warnings and errors) is written into `log` (may be NULL). */
effnet_trt_status effnet_trt_build(const char *onnx_path, const char *engine_path, const effnet_trt_build_options *options,
                                   char *log, size_t log_size, char *error, size_t error_size);

/* Deserializes a plan; `dla_core` must match the one it was built for (-1: GPU). */
effnet_trt_status effnet_trt_load(const char *engine_path, int32_t dla_core, effnet_trt_engine **engine, char *error, size_t error_size);

effnet_trt_status effnet_trt_io_count(const effnet_trt_engine *engine, int32_t *count, char *error, size_t error_size);
effnet_trt_status effnet_trt_io_info(const effnet_trt_engine *engine, int32_t index, effnet_trt_tensor_info *info, char *error, size_t error_size);

/* Runs `batch` float32 NCHW images from `input` (batch × per-image floats of the input tensor) and copies the first
 * output as float32 into `output` (`output_count` floats available). Synchronous. */
effnet_trt_status effnet_trt_infer(effnet_trt_engine *engine, const float *input, int32_t batch, float *output, size_t output_count,
                                   char *error, size_t error_size);

/* The engine inspector's JSON (LayerInformationFormat::kJSON) into `json`; `needed` receives the full size + 1.
 * TensorRT 8.0 and 8.1 have no inspector: EFFNET_TRT_UNSUPPORTED. */
effnet_trt_status effnet_trt_inspect(const effnet_trt_engine *engine, char *json, size_t json_size, size_t *needed, char *error, size_t error_size);

void effnet_trt_free(effnet_trt_engine *engine);

#ifdef __cplusplus
}
#endif

#endif /* EFFNET_TRT_H */
