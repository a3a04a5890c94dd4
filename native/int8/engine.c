/*
 * The public API (effnet_int8.h): arguments checked here, the work done by the loader (loader.c), the memory plan
 * (plan.c), the instruction-set paths (isa.c) and the layers (run.c and the files it calls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void set_error(char *error, size_t size, const char *format, ...) {
  if (!error || size == 0) return;
  va_list args;
  va_start(args, format);
  vsnprintf(error, size, format, args);
  va_end(args);
}

EXPORT void effnet_int8_free(effnet_int8_engine *e) {
  if (!e) return;
  pool_stop(&e->pool);
  free_views(e);
  free_scratch(e);
  free_layers(e);
  free_buffers(e);
  free(e);
}

EXPORT int32_t effnet_int8_abi_version(void) { return EFFNET_INT8_ABI_VERSION; }

EXPORT int32_t effnet_int8_isa_supported(int32_t isa) { return kernels_for(isa) != NULL; }

EXPORT effnet_int8_status effnet_int8_load_memory(const void *data, size_t size, effnet_int8_engine **engine, char *error, size_t error_size) {
  if (!engine || (!data && size)) {
    set_error(error, error_size, "no engine pointer or data given");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  effnet_int8_engine *e = NULL;
  effnet_int8_status status = engine_from_file(data, size, &e, error, error_size);
  *engine = NULL;
  if (!e) return status;
  if (status == EFFNET_INT8_OK) {
    plan_arena(e);
    status = allocate_buffers(e);
  }
  if (status == EFFNET_INT8_OK) status = allocate_scratch(e, 1);
  if (status == EFFNET_INT8_OK) status = use_kernels(e, kernels_for(EFFNET_INT8_ISA_AUTO));
  if (status != EFFNET_INT8_OK) {
    if (status == EFFNET_INT8_OUT_OF_MEMORY) set_error(error, error_size, "out of memory while loading the engine");
    effnet_int8_free(e);
    return status;
  }
  *engine = e;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_load(const char *path, effnet_int8_engine **engine, char *error, size_t error_size) {
  if (!path || !engine) {
    set_error(error, error_size, "no path or engine pointer given");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  FILE *file = fopen(path, "rb");
  if (!file) {
    set_error(error, error_size, "%s: %s", path, strerror(errno));
    return EFFNET_INT8_FILE_ERROR;
  }
  uint8_t *data = NULL;
  size_t size = 0, capacity = 0;
  for (;;) {
    if (size == capacity) {
      capacity = capacity ? capacity * 2 : 1 << 20;
      uint8_t *grown = realloc(data, capacity);
      if (!grown) {
        free(data);
        fclose(file);
        set_error(error, error_size, "out of memory reading %s", path);
        return EFFNET_INT8_OUT_OF_MEMORY;
      }
      data = grown;
    }
    const size_t got = fread(data + size, 1, capacity - size, file);
    size += got;
    if (got == 0) break;
  }
  const int failed = ferror(file);
  fclose(file);
  if (failed) {
    free(data);
    set_error(error, error_size, "%s: read error", path);
    return EFFNET_INT8_FILE_ERROR;
  }
  const effnet_int8_status status = effnet_int8_load_memory(data, size, engine, error, error_size);
  free(data);
  return status;
}

EXPORT effnet_int8_status effnet_int8_get_info(const effnet_int8_engine *e, effnet_int8_info *info) {
  if (!e || !info) return EFFNET_INT8_INVALID_ARGUMENT;
  info->channels = e->channels;
  info->height = e->height;
  info->width = e->width;
  info->classes = e->classes;
  info->layers = e->layer_count;
  info->isa = e->kernels->isa;
  info->threads = e->threads;
  info->arena_bytes = (int64_t)e->arena_bytes;
  info->weight_bytes = (int64_t)e->weight_bytes;
  info->macs = e->macs;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_set_isa(effnet_int8_engine *e, int32_t isa, char *error, size_t error_size) {
  if (!e) return EFFNET_INT8_INVALID_ARGUMENT;
  const kernels_t *k = kernels_for(isa);
  if (!k) {
    set_error(error, error_size, "the %s path is not available on this CPU or in this build", isa_name(isa));
    return EFFNET_INT8_UNSUPPORTED;
  }
  const effnet_int8_status status = use_kernels(e, k);
  if (status != EFFNET_INT8_OK) set_error(error, error_size, "out of memory while packing weights");
  return status;
}

EXPORT effnet_int8_status effnet_int8_set_threads(effnet_int8_engine *e, int32_t threads, char *error, size_t error_size) {
  if (!e) return EFFNET_INT8_INVALID_ARGUMENT;
  if (threads < 1 || threads > MAX_THREADS) {
    set_error(error, error_size, "thread count %d out of range 1..%d", threads, MAX_THREADS);
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  pool_stop(&e->pool);
  free_views(e);
  effnet_int8_status status = allocate_scratch(e, threads);
  if (status == EFFNET_INT8_OK && threads > 1) status = make_views(e, threads);
  if (status == EFFNET_INT8_OK && pool_start(&e->pool, threads) != 0) status = EFFNET_INT8_OUT_OF_MEMORY;
  if (status != EFFNET_INT8_OK) {
    set_error(error, error_size, "could not start %d threads", threads);
    free_views(e);
    allocate_scratch(e, 1);
    e->threads = 1;
    return status;
  }
  e->threads = threads;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_set_image_split(effnet_int8_engine *e, int32_t enabled) {
  if (!e) return EFFNET_INT8_INVALID_ARGUMENT;
  e->image_split = enabled != 0;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_set_profiling(effnet_int8_engine *e, int32_t enabled) {
  if (!e) return EFFNET_INT8_INVALID_ARGUMENT;
  e->profiling = enabled != 0;
  for (int32_t i = 0; i < e->layer_count; i++) e->layers[i].total_ns = 0;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_layer_stats_at(const effnet_int8_engine *e, int32_t index, effnet_int8_layer_stats *stats) {
  if (!e || !stats || index < 0 || index >= e->layer_count) return EFFNET_INT8_INVALID_ARGUMENT;
  const layer_t *l = &e->layers[index];
  stats->kind = l->kind;
  stats->block = l->block;
  stats->macs = l->macs;
  stats->total_ms = l->total_ns / 1e6;
  stats->float_requant = (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) && l->conv.float_requant;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_run(effnet_int8_engine *e, const float *input, int32_t batch, int32_t channels,
                                          int32_t height, int32_t width, float *logits, size_t logits_count, char *error,
                                          size_t error_size) {
  if (e && e->layers[e->layer_count - 1].kind != KIND_HEAD) {
    set_error(error, error_size, "this engine has no classifier head; use effnet_int8_run_quantized");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  if (!e || !input || !logits) {
    set_error(error, error_size, "no engine, input or output given");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  if (channels != e->channels || height != e->height || width != e->width || batch < 1) {
    set_error(error, error_size, "input shape [%d, %d, %d, %d] does not match the engine's [N, %d, %d, %d]", batch, channels,
              height, width, e->channels, e->height, e->width);
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  if (logits_count != (size_t)batch * e->classes) {
    set_error(error, error_size, "output holds %zu floats, %d images need %d", logits_count, batch, batch * e->classes);
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  run_images(e, input, batch, logits);
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_run_quantized(effnet_int8_engine *e, const int8_t *input, size_t input_count,
                                                    int8_t *output, size_t output_count, char *error, size_t error_size) {
  if (!e || !input || !output) {
    set_error(error, error_size, "no engine, input or output given");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  if (e->layers[e->layer_count - 1].kind == KIND_HEAD) {
    set_error(error, error_size, "this engine ends in a classifier head; use effnet_int8_run");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  const size_t expected = (size_t)e->channels * e->height * e->width;
  if (input_count != expected || output_count != e->output_count) {
    set_error(error, error_size, "input holds %zu values (expected %zu), output %zu (expected %zu)", input_count, expected,
              output_count, e->output_count);
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  run_quantized_image(e, input, output);
  return EFFNET_INT8_OK;
}
