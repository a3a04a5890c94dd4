/*
 * Loader, scheduler and thread pool of the int8 engine. The loader trusts nothing in the file: every count, shape,
 * slot and multiplier is range-checked before anything is allocated or indexed, so a truncated, bit-flipped or
 * foreign file is an error message, never a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine file is little-endian and read in place; big-endian hosts are not supported"
#endif

#define EXPORT __attribute__((visibility("default")))
/* Loops that stay in this file (pool sums, classifier) get AVX-512 and AVX2 clones picked at load time on x86; they are
 * integer or per-channel float sums, so every clone computes the same values. */
#if defined(__x86_64__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CLONES
#endif
#define HEADER_SIZE 56
static const char MAGIC[8] = {'E', 'F', 'N', 'T', 'I', 'N', 'T', '8'};

/* ---------- thread pool: workers spin briefly between layers, then sleep ---------- */

typedef void (*task_fn)(void *arg, int32_t thread, int32_t threads);

typedef struct {
  pthread_t threads[MAX_THREADS];
  int32_t count; /* including the calling thread */
  pthread_mutex_t mutex;
  pthread_cond_t start, done;
  atomic_uint_fast64_t generation;
  atomic_int pending;
  atomic_int stop;
  task_fn fn;
  void *arg;
} pool_t;

typedef struct {
  pool_t *pool;
  int32_t index;
} worker_arg_t;

#define SPINS 200000

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *worker_main(void *raw) {
  worker_arg_t self = *(worker_arg_t *)raw;
  free(raw);
  pool_t *pool = self.pool;
  uint_fast64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop) && spins < SPINS) {
      cpu_relax();
      spins++;
    }
    if (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
      pthread_mutex_lock(&pool->mutex);
      while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) pthread_cond_wait(&pool->start, &pool->mutex);
      pthread_mutex_unlock(&pool->mutex);
    }
    if (atomic_load(&pool->stop)) return NULL;
    seen = atomic_load(&pool->generation);
    pool->fn(pool->arg, self.index, pool->count);
    if (atomic_fetch_sub(&pool->pending, 1) == 1) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
}

static void pool_run(pool_t *pool, task_fn fn, void *arg) {
  if (pool->count <= 1) {
    fn(arg, 0, 1);
    return;
  }
  pool->fn = fn;
  pool->arg = arg;
  atomic_store(&pool->pending, pool->count - 1);
  pthread_mutex_lock(&pool->mutex);
  atomic_fetch_add(&pool->generation, 1);
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->mutex);
  fn(arg, 0, pool->count);
  int spins = 0;
  while (atomic_load(&pool->pending) > 0 && spins < SPINS) {
    cpu_relax();
    spins++;
  }
  pthread_mutex_lock(&pool->mutex);
  while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
}

static void pool_stop(pool_t *pool) {
  if (pool->count <= 1) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store(&pool->stop, 1);
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->mutex);
  for (int32_t i = 1; i < pool->count; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->mutex);
  pthread_cond_destroy(&pool->start);
  pthread_cond_destroy(&pool->done);
  pool->count = 1;
}

static int pool_start(pool_t *pool, int32_t count) {
  memset(pool, 0, sizeof *pool);
  pool->count = 1;
  if (count <= 1) return 0;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->start, NULL);
  pthread_cond_init(&pool->done, NULL);
  for (int32_t i = 1; i < count; i++) {
    worker_arg_t *arg = malloc(sizeof *arg);
    if (!arg) break;
    arg->pool = pool;
    arg->index = i;
    if (pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0) {
      free(arg);
      break;
    }
    pool->count = i + 1;
  }
  if (pool->count != count) {
    pool_stop(pool);
    return -1;
  }
  return 0;
}

/* ---------- the engine ---------- */

typedef struct {
  int16_t *rows;   /* CHUNK_ROWS × max k_pad, in the path's GEMM row format */
  int8_t *patches; /* CHUNK_ROWS × max k: a k×k conv's gathered input rows */
  int32_t *acc;  /* max(CHUNK_ROWS × max n_pad, out_w × c) */
  int32_t *pool; /* max pooled channels */
  uint8_t *padded; /* this thread's window of a padded input (pad_rows) */
} scratch_t;

struct effnet_int8_engine {
  int32_t channels, height, width, classes, slot_count, layer_count, input_slot, last_slot;
  float input_scale;
  layer_t *layers;
  size_t slot_offset[MAX_SLOTS], slot_bytes[MAX_SLOTS];
  size_t output_count; /* the last layer's int8 tensor (run_quantized) */
  uint8_t *arena;
  size_t arena_bytes, weight_bytes;
  int32_t max_k_pad, max_n_pad, max_row_acc, max_channels, max_reduced;
  float *gate; /* the dequantized SE gate, one value per channel */
  int8_t *pooled, *fc1_out;
  double *head_sums;
  int8_t *staging; /* the quantized input in NCHW, before it is interleaved; also the SE's quantized FC2 outputs */
  float *se_values;  /* the SE's float vectors (pooled, FC1 and FC2 outputs) before they are quantized */
  int32_t *se_acc;   /* the SE's FC2 accumulators */
  double *se_logits; /* the SE's FC2 outputs in double, where the gate's Sigmoid reads them unquantized */
  const kernels_t *kernels;
  int32_t threads, profiling;
  pool_t pool;
  scratch_t scratch[MAX_THREADS];
  /*
   * Batches of at least `threads` images run one image per thread, with no barrier between layers: worker t runs
   * views[t], a one-thread view of this engine (the same layers and weights, its own scratch, and for t ≥ 1 its own
   * arena and vectors; view 0 shares this engine's). NULL on one thread.
   */
  effnet_int8_engine *views[MAX_THREADS];
  int32_t owns_buffers; /* 0 in view 0, whose arena and vectors are its engine's */
  int64_t macs;
};

static void set_error(char *error, size_t size, const char *format, ...) {
  if (!error || size == 0) return;
  va_list args;
  va_start(args, format);
  vsnprintf(error, size, format, args);
  va_end(args);
}

static uint32_t crc32_of(const uint8_t *data, size_t size) {
  static uint32_t table[256];
  static int ready = 0;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

typedef struct {
  const uint8_t *data;
  size_t size, offset;
  int failed;
} reader_t;

static const uint8_t *take(reader_t *r, size_t bytes) {
  if (r->failed || bytes > r->size - r->offset) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *at = r->data + r->offset;
  r->offset += (bytes + 3) & ~(size_t)3; /* every array starts 4-byte aligned */
  if (r->offset > r->size) r->offset = r->size;
  return at;
}

static int32_t read_i32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  int32_t v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

static float read_f32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  float v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

/* An owned copy of an array from the file (the file buffer is not kept). */
static void *read_array(reader_t *r, size_t count, size_t element, size_t *weight_bytes) {
  if (count == 0 || count > ((size_t)1 << 31) / element) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *p = take(r, count * element);
  if (!p) return NULL;
  void *copy = aligned_alloc(64, (count * element + 63) & ~(size_t)63);
  if (!copy) {
    r->failed = 2;
    return NULL;
  }
  memcpy(copy, p, count * element);
  /* Vector kernels may read a partial last block; those lanes are discarded, but read zeros, not garbage. */
  memset((uint8_t *)copy + count * element, 0, ((count * element + 63) & ~(size_t)63) - count * element);
  *weight_bytes += count * element;
  return copy;
}

/* Scales must be positive normal floats: zero, infinite and NaN are meaningless, and a subnormal scale is flushed to
 * zero by some vector paths (DAZ/FTZ, NEON) but not by the scalar one, so the paths would disagree. */
static int positive_normal(float v) { return isnormal(v) && v > 0; }

typedef struct {
  int32_t h, w, c, set;
} shape_t;

static void free_layers(effnet_int8_engine *e) {
  if (!e->layers) return;
  for (int32_t i = 0; i < e->layer_count; i++) {
    layer_t *l = &e->layers[i];
    void *arrays[] = {l->weights, l->packed, l->bias, l->mult, l->shift, l->fc1_weights, l->fc2_weights,
                      l->fc1_scale, l->fc1_bias, l->fc2_scale, l->fc2_bias, l->head_scale, l->head_bias, l->head_table, l->gate_table};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
  }
  free(e->layers);
  e->layers = NULL;
}

static void free_scratch(effnet_int8_engine *e) {
  for (int32_t t = 0; t < MAX_THREADS; t++) {
    free(e->scratch[t].rows);
    free(e->scratch[t].patches);
    free(e->scratch[t].acc);
    free(e->scratch[t].pool);
    free(e->scratch[t].padded);
    memset(&e->scratch[t], 0, sizeof e->scratch[t]);
  }
}

/* One image's activations and the vectors between layers. */
static effnet_int8_status allocate_buffers(effnet_int8_engine *e) {
  e->owns_buffers = 1;
  e->arena = aligned_alloc(64, e->arena_bytes > 0 ? e->arena_bytes : 64);
  e->gate = calloc((size_t)e->max_channels + 1, sizeof(float));
  e->pooled = calloc((size_t)e->max_channels + 1, 1);
  e->fc1_out = calloc((size_t)e->max_reduced + 1, 1);
  e->head_sums = calloc((size_t)e->max_channels + 1, sizeof(double));
  e->staging = malloc((size_t)e->channels * e->height * e->width + (size_t)e->max_channels + 1);
  e->se_values = calloc((size_t)e->max_channels + e->max_reduced + 1, sizeof(float));
  e->se_acc = calloc((size_t)e->max_channels + 1, sizeof(int32_t));
  e->se_logits = calloc((size_t)e->max_channels + 1, sizeof(double));
  const int ok = e->arena && e->gate && e->pooled && e->fc1_out && e->head_sums && e->staging && e->se_values && e->se_acc && e->se_logits;
  return ok ? EFFNET_INT8_OK : EFFNET_INT8_OUT_OF_MEMORY;
}

static void free_buffers(effnet_int8_engine *e) {
  if (!e->owns_buffers) return;
  free(e->arena);
  free(e->gate);
  free(e->pooled);
  free(e->fc1_out);
  free(e->head_sums);
  free(e->staging);
  free(e->se_values);
  free(e->se_acc);
  free(e->se_logits);
}

/* The views share their engine's layers and scratch; they own only their buffers. */
static void free_views(effnet_int8_engine *e) {
  for (int32_t t = 0; t < MAX_THREADS; t++) {
    if (!e->views[t]) continue;
    free_buffers(e->views[t]);
    free(e->views[t]);
    e->views[t] = NULL;
  }
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

static const kernels_t *kernels_for(int32_t isa) {
  switch (isa) {
    case EFFNET_INT8_ISA_SCALAR: return &effnet_int8_scalar_kernels;
#if defined(__x86_64__)
    case EFFNET_INT8_ISA_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") ? &effnet_int8_avx2_kernels : NULL;
    case EFFNET_INT8_ISA_AVX_VNNI: {
      /* AVX-VNNI is CPUID leaf 7 subleaf 1, EAX bit 4; GCC 12's __builtin_cpu_supports does not report it. */
      unsigned a = 0, b = 0, c = 0, d = 0;
      if (!kernels_for(EFFNET_INT8_ISA_AVX2) || !__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 4))) return NULL;
      return &effnet_int8_avx_vnni_kernels;
    }
    case EFFNET_INT8_ISA_AVX512:
      __builtin_cpu_init();
      return kernels_for(EFFNET_INT8_ISA_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi")
               ? &effnet_int8_avx512_kernels : NULL;
#endif
#if defined(__aarch64__)
    case EFFNET_INT8_ISA_NEON: return &effnet_int8_neon_kernels;
#endif
    case EFFNET_INT8_ISA_AUTO: {
      const kernels_t *best = kernels_for(EFFNET_INT8_ISA_AVX512);
      if (!best) best = kernels_for(EFFNET_INT8_ISA_AVX_VNNI);
      if (!best) best = kernels_for(EFFNET_INT8_ISA_AVX2);
      if (!best) best = kernels_for(EFFNET_INT8_ISA_NEON);
      return best ? best : &effnet_int8_scalar_kernels;
    }
    default: return NULL;
  }
}

EXPORT int32_t effnet_int8_isa_supported(int32_t isa) { return kernels_for(isa) != NULL; }

static const char *isa_name(int32_t isa) {
  switch (isa) {
    case EFFNET_INT8_ISA_SCALAR: return "scalar";
    case EFFNET_INT8_ISA_AVX2: return "avx2";
    case EFFNET_INT8_ISA_NEON: return "neon";
    case EFFNET_INT8_ISA_AVX_VNNI: return "avx-vnni";
    case EFFNET_INT8_ISA_AVX512: return "avx512";
    default: return "auto";
  }
}

/* One row of a layer's padded input as pad_rows writes it. */
static size_t padded_row_bytes(const layer_t *l) {
  return (size_t)(l->in_w + l->pad_left + l->pad_right) * (pixel_quad_conv(l) ? 4 : l->in_c);
}

/* Per-layer validation messages name the layer so a writer bug is findable. */
#define FAIL(...)                                          \
  do {                                                     \
    set_error(error, error_size, __VA_ARGS__);             \
    return EFFNET_INT8_FORMAT_ERROR;                       \
  } while (0)

static effnet_int8_status check_requant(const layer_t *l, int32_t index, char *error, size_t error_size) {
  for (int32_t c = 0; c < (l->kind == KIND_CONV ? l->out_c : l->in_c); c++) {
    if (l->mult[c] < (1 << 30) || l->shift[c] < 0 || l->shift[c] > 31 || l->bias[c] < -(1 << 30) || l->bias[c] > (1 << 30)) {
      FAIL("layer %d: requantization of channel %d out of range (multiplier %d, shift %d, bias %d)", index, c, l->mult[c], l->shift[c], l->bias[c]);
    }
  }
  return EFFNET_INT8_OK;
}

static effnet_int8_status read_layer(effnet_int8_engine *e, reader_t *r, int32_t index, shape_t *shapes,
                                     shape_t *pooled, int32_t *gate_channels, char *error, size_t error_size) {
  layer_t *l = &e->layers[index];
  l->kind = read_i32(r);
  l->block = read_i32(r);
  l->flags = read_i32(r);
  if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
  if (l->block < 0 || l->block > 1000) FAIL("layer %d: block number %d out of range", index, l->block);
  const int32_t known = l->kind == KIND_CONV ? (FLAG_ACTIVATION | FLAG_SE_INPUT | FLAG_RESIDUAL)
                        : l->kind == KIND_DEPTHWISE ? (FLAG_ACTIVATION | FLAG_POOL)
                        : l->kind == KIND_HEAD || l->kind == KIND_SE ? FLAG_ACTIVATION : 0;
  if (l->flags & ~known) FAIL("layer %d: unknown flags 0x%x for layer kind %d", index, l->flags, l->kind);
  size_t *wb = &e->weight_bytes;

  if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
    const int conv = l->kind == KIND_CONV;
    l->in_slot = read_i32(r);
    l->out_slot = read_i32(r);
    l->res_slot = conv ? read_i32(r) : -1;
    l->in_c = read_i32(r);
    l->out_c = conv ? read_i32(r) : l->in_c;
    l->kh = read_i32(r);
    l->kw = read_i32(r);
    l->stride = read_i32(r);
    l->pad_top = read_i32(r);
    l->pad_left = read_i32(r);
    l->pad_bottom = read_i32(r);
    l->pad_right = read_i32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (l->in_slot < 0 || l->in_slot >= e->slot_count || l->out_slot < 0 || l->out_slot >= e->slot_count || l->in_slot == l->out_slot) {
      FAIL("layer %d: slots %d → %d invalid for %d slots", index, l->in_slot, l->out_slot, e->slot_count);
    }
    const shape_t in = shapes[l->in_slot];
    if (!in.set) FAIL("layer %d reads slot %d before any layer wrote it", index, l->in_slot);
    if (l->in_c != in.c) FAIL("layer %d expects %d input channels, its input has %d", index, l->in_c, in.c);
    if (l->out_c < 1 || l->out_c > 16384 || l->kh < 1 || l->kh > 15 || l->kw < 1 || l->kw > 15 || l->stride < 1 || l->stride > 4) {
      FAIL("layer %d: unsupported geometry (out channels %d, kernel %dx%d, stride %d)", index, l->out_c, l->kh, l->kw, l->stride);
    }
    if (l->pad_top < 0 || l->pad_top >= l->kh || l->pad_bottom < 0 || l->pad_bottom >= l->kh || l->pad_left < 0 ||
        l->pad_left >= l->kw || l->pad_right < 0 || l->pad_right >= l->kw) {
      FAIL("layer %d: padding %d,%d,%d,%d out of range for a %dx%d kernel", index, l->pad_top, l->pad_left, l->pad_bottom, l->pad_right, l->kh, l->kw);
    }
    l->in_h = in.h;
    l->in_w = in.w;
    l->out_h = (in.h + l->pad_top + l->pad_bottom - l->kh) / l->stride + 1;
    l->out_w = (in.w + l->pad_left + l->pad_right - l->kw) / l->stride + 1;
    if (in.h + l->pad_top + l->pad_bottom < l->kh || in.w + l->pad_left + l->pad_right < l->kw) FAIL("layer %d: kernel larger than its padded input", index);
    if (conv) {
      l->k = l->kh * l->kw * l->in_c;
      if (l->k > 65536) FAIL("layer %d: reduction length %d too large", index, l->k);
      l->k_pad = round_up(l->k, 4);
      l->n_pad = round_up(l->out_c, 8);
      if (l->flags & FLAG_SE_INPUT) {
        l->gate_in_scale = read_f32(r);
        l->gate_out_scale = read_f32(r);
        if (*gate_channels != l->in_c) FAIL("layer %d scales its input by a squeeze-excitation gate of %d channels, it has %d", index, *gate_channels, l->in_c);
        if (l->kh != 1 || l->kw != 1 || l->stride != 1) FAIL("layer %d: a gated input needs a 1x1 stride-1 conv", index);
        if (!positive_normal(l->gate_in_scale) || !positive_normal(l->gate_out_scale)) FAIL("layer %d: a gate scale is not a positive normal number", index);
      }
      if (l->flags & FLAG_RESIDUAL) {
        l->res_main_scale = read_f32(r);
        l->res_skip_scale = read_f32(r);
        l->res_out_scale = read_f32(r);
        if (!positive_normal(l->res_main_scale) || !positive_normal(l->res_skip_scale) || !positive_normal(l->res_out_scale)) {
          FAIL("layer %d: a residual scale is not a positive normal number", index);
        }
        if (l->res_slot < 0 || l->res_slot >= e->slot_count || l->res_slot == l->out_slot) FAIL("layer %d: residual slot %d invalid", index, l->res_slot);
        const shape_t skip = shapes[l->res_slot];
        if (!skip.set || skip.h != l->out_h || skip.w != l->out_w || skip.c != l->out_c) {
          FAIL("layer %d: residual input %dx%dx%d does not match the output %dx%dx%d", index, skip.h, skip.w, skip.c, l->out_h, l->out_w, l->out_c);
        }
      }
      /* [out][kh][kw][in] in the file, zero padded to k_pad in memory. */
      const int8_t *w = (const int8_t *)take(r, (size_t)l->out_c * l->k);
      if (!w) FAIL("layer %d: the file ends inside its weights", index);
      l->weights = aligned_alloc(64, ((size_t)l->out_c * l->k_pad + 63) & ~(size_t)63);
      if (!l->weights) return EFFNET_INT8_OUT_OF_MEMORY;
      for (int32_t o = 0; o < l->out_c; o++) {
        memcpy(l->weights + (size_t)o * l->k_pad, w + (size_t)o * l->k, (size_t)l->k);
        memset(l->weights + (size_t)o * l->k_pad + l->k, 0, (size_t)(l->k_pad - l->k));
      }
      *wb += (size_t)l->out_c * l->k;
      l->macs = (int64_t)l->out_h * l->out_w * l->out_c * l->k;
    } else {
      l->weights = read_array(r, (size_t)l->kh * l->kw * l->in_c, 1, wb);
      l->macs = (int64_t)l->out_h * l->out_w * l->in_c * l->kh * l->kw;
    }
    const int32_t channels = l->out_c;
    l->bias = read_array(r, (size_t)channels, 4, wb);
    l->mult = read_array(r, (size_t)channels, 4, wb);
    l->shift = read_array(r, (size_t)channels, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      const uint8_t *table = take(r, 256);
      if (table) memcpy(l->table, table, 256);
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    effnet_int8_status status = check_requant(l, index, error, error_size);
    if (status != EFFNET_INT8_OK) return status;
    if ((int64_t)l->out_h * l->out_w * l->out_c > ((int64_t)1 << 28)) FAIL("layer %d: output tensor too large", index);
    shapes[l->out_slot] = (shape_t){l->out_h, l->out_w, l->out_c, 1};
    if (l->flags & FLAG_POOL) *pooled = shapes[l->out_slot];
    if (conv) {
      if (l->k_pad > e->max_k_pad) e->max_k_pad = l->k_pad;
      if (l->n_pad > e->max_n_pad) e->max_n_pad = l->n_pad;
    } else if (l->out_w * l->in_c > e->max_row_acc) {
      e->max_row_acc = l->out_w * l->in_c;
    }
    if (l->in_c > e->max_channels) e->max_channels = l->in_c;
    if (l->out_c > e->max_channels) e->max_channels = l->out_c;
    return EFFNET_INT8_OK;
  }

  if (l->kind == KIND_SE) {
    l->in_c = read_i32(r);
    l->reduced = read_i32(r);
    l->se_in_scale = read_f32(r);
    l->pool_scale = read_f32(r);
    l->fc1_out_scale = read_f32(r);
    l->fc1_act_scale = read_f32(r);
    l->gate_scale = read_f32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (!pooled->set || pooled->c != l->in_c) FAIL("layer %d: squeeze-excitation of %d channels without a pooled depthwise output of that width", index, l->in_c);
    if (l->reduced < 1 || l->reduced > 16384) FAIL("layer %d: squeeze-excitation width %d out of range", index, l->reduced);
    if (!positive_normal(l->se_in_scale) || !positive_normal(l->pool_scale) || !positive_normal(l->fc1_out_scale) ||
        !positive_normal(l->fc1_act_scale) || !positive_normal(l->gate_scale)) {
      FAIL("layer %d: a squeeze-excitation scale is not a positive normal number", index);
    }
    l->in_h = pooled->h;
    l->in_w = pooled->w;
    l->fc1_weights = read_array(r, (size_t)l->reduced * l->in_c, 1, wb);
    l->fc1_scale = read_array(r, (size_t)l->reduced, 4, wb);
    l->fc1_bias = read_array(r, (size_t)l->reduced, 4, wb);
    const uint8_t *table = take(r, 256);
    if (table) memcpy(l->table, table, 256);
    l->fc2_weights = read_array(r, (size_t)l->reduced * l->in_c, 1, wb);
    if (l->fc2_weights) {
      int8_t *by_reduced = malloc((size_t)l->reduced * l->in_c);
      if (!by_reduced) {
        r->failed = 2;
      } else {
        for (int32_t c = 0; c < l->in_c; c++) {
          for (int32_t j = 0; j < l->reduced; j++) by_reduced[(size_t)j * l->in_c + c] = l->fc2_weights[(size_t)c * l->reduced + j];
        }
      }
      free(l->fc2_weights);
      l->fc2_weights = by_reduced;
    }
    l->fc2_scale = read_array(r, (size_t)l->in_c, 4, wb);
    l->fc2_bias = read_array(r, (size_t)l->in_c, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      l->fc2_out_scale = read_f32(r);
      l->gate_table = read_array(r, 256, 4, wb);
      if (!r->failed && !positive_normal(l->fc2_out_scale)) FAIL("layer %d: the gate input scale is not a positive normal number", index);
      for (int32_t i = 0; l->gate_table && i < 256; i++) {
        if (!isfinite(l->gate_table[i])) FAIL("layer %d: a non-finite gate table entry", index);
      }
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    for (int32_t i = 0; i < l->reduced; i++) {
      if (!isfinite(l->fc1_scale[i]) || !isfinite(l->fc1_bias[i])) FAIL("layer %d: a non-finite first-FC parameter", index);
    }
    for (int32_t i = 0; i < l->in_c; i++) {
      if (!isfinite(l->fc2_scale[i]) || !isfinite(l->fc2_bias[i])) FAIL("layer %d: a non-finite second-FC parameter", index);
    }
    *gate_channels = l->in_c;
    if (l->reduced > e->max_reduced) e->max_reduced = l->reduced;
    l->macs = 2 * (int64_t)l->in_c * l->reduced;
    return EFFNET_INT8_OK;
  }

  if (l->kind == KIND_HEAD) {
    l->in_slot = read_i32(r);
    l->in_c = read_i32(r);
    l->out_c = read_i32(r);
    l->head_in_scale = read_f32(r);
    l->head_pool_scale = read_f32(r);
    if (r->failed) FAIL("layer %d: the file ends inside the layer table", index);
    if (l->in_slot < 0 || l->in_slot >= e->slot_count || !shapes[l->in_slot].set) FAIL("layer %d reads slot %d, which no layer wrote", index, l->in_slot);
    if (shapes[l->in_slot].c != l->in_c) FAIL("layer %d expects %d input channels, its input has %d", index, l->in_c, shapes[l->in_slot].c);
    if (l->out_c != e->classes) FAIL("layer %d produces %d logits, the header says %d classes", index, l->out_c, e->classes);
    if (index != e->layer_count - 1) FAIL("layer %d: the classifier head must be the last layer", index);
    if (!positive_normal(l->head_in_scale) || !positive_normal(l->head_pool_scale)) FAIL("layer %d: a head scale is not a positive normal number", index);
    l->in_h = shapes[l->in_slot].h;
    l->in_w = shapes[l->in_slot].w;
    l->weights = read_array(r, (size_t)l->out_c * l->in_c, 1, wb);
    l->head_scale = read_array(r, (size_t)l->out_c, 4, wb);
    l->head_bias = read_array(r, (size_t)l->out_c, 4, wb);
    if (l->flags & FLAG_ACTIVATION) {
      l->head_table = read_array(r, 256, 4, wb);
      for (int32_t i = 0; l->head_table && i < 256; i++) {
        if (!isfinite(l->head_table[i])) FAIL("layer %d: a non-finite activation table entry", index);
      }
    }
    if (r->failed == 2) return EFFNET_INT8_OUT_OF_MEMORY;
    if (r->failed) FAIL("layer %d: the file ends inside its parameters", index);
    for (int32_t i = 0; i < l->out_c; i++) {
      if (!isfinite(l->head_scale[i]) || !isfinite(l->head_bias[i])) FAIL("layer %d: a non-finite classifier parameter", index);
    }
    if (l->in_c > e->max_channels) e->max_channels = l->in_c;
    l->macs = (int64_t)l->in_c * l->out_c;
    return EFFNET_INT8_OK;
  }
  FAIL("layer %d: unknown layer kind %d (a newer engine file?)", index, l->kind);
}

/* Bytes of padded input rows (pad_rows) a thread needs at most for layer l (all of its rows, as a view running a whole
 * image on one thread pads them); 0 for layers that read none. */
static size_t padded_window_bytes(const layer_t *l) {
  if (l->kind != KIND_DEPTHWISE && !pixel_quad_conv(l)) return 0;
  const size_t rows = (size_t)(l->out_h - 1) * l->stride + l->kh;
  /* Slack: the kernels read whole channel blocks past the last channel. */
  return rows * padded_row_bytes(l) + MAX_DEPTHWISE_BLOCK;
}

static effnet_int8_status allocate_scratch(effnet_int8_engine *e, int32_t threads) {
  free_scratch(e);
  for (int32_t t = 0; t < threads; t++) {
    scratch_t *s = &e->scratch[t];
    const size_t rows = (size_t)CHUNK_ROWS * (e->max_k_pad > 0 ? e->max_k_pad : 4);
    size_t acc = (size_t)CHUNK_ROWS * (e->max_n_pad > 0 ? e->max_n_pad : 8);
    if ((size_t)e->max_row_acc > acc) acc = (size_t)e->max_row_acc;
    s->rows = aligned_alloc(64, (rows * sizeof(int16_t) + 63) & ~(size_t)63);
    s->patches = aligned_alloc(64, (rows + 63) & ~(size_t)63);
    s->acc = aligned_alloc(64, (acc * sizeof(int32_t) + 63) & ~(size_t)63);
    /* Whole 32-channel blocks: the fused depthwise kernels add their last block in full. */
    s->pool = aligned_alloc(64, (size_t)round_up(e->max_channels + 1, MAX_DEPTHWISE_BLOCK) * sizeof(int32_t));
    size_t padded = 64;
    for (int32_t i = 0; i < e->layer_count; i++) {
      const size_t bytes = padded_window_bytes(&e->layers[i]);
      if (bytes > padded) padded = bytes;
    }
    s->padded = aligned_alloc(64, (padded + 63) & ~(size_t)63);
    if (!s->rows || !s->patches || !s->acc || !s->pool || !s->padded) {
      free_scratch(e);
      return EFFNET_INT8_OUT_OF_MEMORY;
    }
  }
  return EFFNET_INT8_OK;
}

static effnet_int8_status use_kernels(effnet_int8_engine *e, const kernels_t *k) {
  for (int32_t i = 0; i < e->layer_count; i++) {
    layer_t *l = &e->layers[i];
    free(l->packed);
    l->packed = NULL;
    const size_t bytes = k->packed_size(l);
    if (bytes == 0) continue;
    l->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!l->packed) return EFFNET_INT8_OUT_OF_MEMORY;
    k->pack_weights(l);
  }
  e->kernels = k;
  return EFFNET_INT8_OK;
}

EXPORT effnet_int8_status effnet_int8_load_memory(const void *data, size_t size, effnet_int8_engine **engine, char *error, size_t error_size) {
  if (!engine || (!data && size)) {
    set_error(error, error_size, "no engine pointer or data given");
    return EFFNET_INT8_INVALID_ARGUMENT;
  }
  *engine = NULL;
  const uint8_t *bytes = data;
  if (size < 8 || memcmp(bytes, MAGIC, 8) != 0) {
    set_error(error, error_size, "not an effnet-edge int8 engine file (no EFNTINT8 signature)");
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (size < HEADER_SIZE) {
    set_error(error, error_size, "truncated: %zu bytes, shorter than the %d-byte header", size, HEADER_SIZE);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  uint32_t header[12];
  memcpy(header, bytes + 8, sizeof header);
  const uint32_t version = header[0], header_size = header[1], file_size = header[2], crc = header[3];
  if (version != EFFNET_INT8_FILE_VERSION) {
    set_error(error, error_size, "engine file version %u, this engine reads version %d; write the engine file again with this effnet-edge", version, EFFNET_INT8_FILE_VERSION);
    return EFFNET_INT8_VERSION_MISMATCH;
  }
  if (header_size != HEADER_SIZE) {
    set_error(error, error_size, "header size %u, expected %d", header_size, HEADER_SIZE);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (file_size != size) {
    set_error(error, error_size, "truncated or padded: the header says %u bytes, the file has %zu", file_size, size);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (crc32_of(bytes + HEADER_SIZE, size - HEADER_SIZE) != crc) {
    set_error(error, error_size, "damaged: the checksum of the layer data does not match the header");
    return EFFNET_INT8_FORMAT_ERROR;
  }
  effnet_int8_engine *e = calloc(1, sizeof *e);
  if (!e) return EFFNET_INT8_OUT_OF_MEMORY;
  e->pool.count = 1;
  e->threads = 1;
  e->channels = (int32_t)header[4];
  e->height = (int32_t)header[5];
  e->width = (int32_t)header[6];
  e->classes = (int32_t)header[7];
  e->slot_count = (int32_t)header[8];
  e->layer_count = (int32_t)header[9];
  e->input_slot = (int32_t)header[10];
  memcpy(&e->input_scale, &header[11], 4);
  effnet_int8_status status = EFFNET_INT8_FORMAT_ERROR;
  if (e->channels < 1 || e->channels > 16384 || e->height < 1 || e->height > 4096 || e->width < 1 || e->width > 4096 ||
      e->classes < 0 || e->classes > 100000 || e->slot_count < 1 || e->slot_count > MAX_SLOTS || e->layer_count < 1 ||
      e->layer_count > 4096 || e->input_slot < 0 || e->input_slot >= e->slot_count || !positive_normal(e->input_scale)) {
    set_error(error, error_size, "header values out of range (input %dx%dx%d, %d classes, %d slots, %d layers, input scale %g)",
              e->channels, e->height, e->width, e->classes, e->slot_count, e->layer_count, (double)e->input_scale);
    goto fail;
  }
  e->layers = calloc((size_t)e->layer_count, sizeof(layer_t));
  if (!e->layers) {
    status = EFFNET_INT8_OUT_OF_MEMORY;
    goto fail;
  }
  reader_t reader = {bytes, size, HEADER_SIZE, 0};
  shape_t shapes[MAX_SLOTS] = {{0}}, pooled = {0};
  int32_t gate_channels = -1;
  shapes[e->input_slot] = (shape_t){e->height, e->width, e->channels, 1};
  size_t slot_max[MAX_SLOTS] = {0};
  slot_max[e->input_slot] = (size_t)e->height * e->width * e->channels;
  for (int32_t i = 0; i < e->layer_count; i++) {
    status = read_layer(e, &reader, i, shapes, &pooled, &gate_channels, error, error_size);
    if (status != EFFNET_INT8_OK) goto fail;
    const layer_t *l = &e->layers[i];
    if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
      const size_t bytes_out = (size_t)l->out_h * l->out_w * l->out_c;
      if (bytes_out > slot_max[l->out_slot]) slot_max[l->out_slot] = bytes_out;
      e->last_slot = l->out_slot;
      e->output_count = bytes_out;
    }
    e->macs += l->macs;
  }
  if (reader.offset != size) {
    set_error(error, error_size, "%zu bytes after the last layer", size - reader.offset);
    status = EFFNET_INT8_FORMAT_ERROR;
    goto fail;
  }
  size_t offset = 0;
  for (int32_t s = 0; s < e->slot_count; s++) {
    e->slot_offset[s] = offset;
    e->slot_bytes[s] = slot_max[s];
    offset += (slot_max[s] + 63) & ~(size_t)63;
  }
  e->arena_bytes = offset;
  if ((status = allocate_buffers(e)) != EFFNET_INT8_OK) goto fail;
  if ((status = allocate_scratch(e, 1)) != EFFNET_INT8_OK) goto fail;
  if ((status = use_kernels(e, kernels_for(EFFNET_INT8_ISA_AUTO))) != EFFNET_INT8_OK) goto fail;
  *engine = e;
  return EFFNET_INT8_OK;
fail:
  if (status == EFFNET_INT8_OUT_OF_MEMORY) set_error(error, error_size, "out of memory while loading the engine");
  effnet_int8_free(e);
  return status;
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

/* views[t] for each of `threads` workers (see the engine's struct); the scratch must be allocated already. */
static effnet_int8_status make_views(effnet_int8_engine *e, int32_t threads) {
  for (int32_t t = 0; t < threads; t++) {
    effnet_int8_engine *v = malloc(sizeof *v);
    if (!v) return EFFNET_INT8_OUT_OF_MEMORY;
    *v = *e;
    memset(&v->pool, 0, sizeof v->pool);
    v->pool.count = 1;
    v->threads = 1;
    v->profiling = 0;
    memset(v->scratch, 0, sizeof v->scratch);
    v->scratch[0] = e->scratch[t];
    memset(v->views, 0, sizeof v->views);
    v->owns_buffers = 0;
    e->views[t] = v;
    if (t > 0 && allocate_buffers(v) != EFFNET_INT8_OK) return EFFNET_INT8_OUT_OF_MEMORY;
  }
  return EFFNET_INT8_OK;
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
  return EFFNET_INT8_OK;
}

/* ---------- execution ---------- */

typedef struct {
  effnet_int8_engine *e;
  const layer_t *l;
} task_t;

/*
 * A tensor of `bytes` in arena slot `index`, centred in the slot. Threads split every tensor in order (runs of pixels
 * or rows), so with two threads, thread 0 writes below the slot's middle and thread 1 above it whatever the tensor's
 * size: the lines a thread writes were last written by that same thread, not fetched from the other core. (A slot
 * holds tensors of many sizes; starting them all at its base made the 56×56 expand convs scale 1.1× on two threads.)
 */
static int8_t *tensor(effnet_int8_engine *e, int32_t index, size_t bytes) {
  return (int8_t *)e->arena + e->slot_offset[index] + ((e->slot_bytes[index] - bytes) / 2 & ~(size_t)63);
}

static int8_t *layer_input(effnet_int8_engine *e, const layer_t *l) { return tensor(e, l->in_slot, (size_t)l->in_h * l->in_w * l->in_c); }

static int8_t *layer_output(effnet_int8_engine *e, const layer_t *l) { return tensor(e, l->out_slot, (size_t)l->out_h * l->out_w * l->out_c); }

static int8_t *network_input(effnet_int8_engine *e) { return tensor(e, e->input_slot, (size_t)e->channels * e->height * e->width); }

/* im2col for a k×k conv (the stem): one int8 row of kh*kw*in_c values per output pixel, zero outside the input. */
static void gather_patches(const layer_t *l, const int8_t *in, int32_t p0, int32_t rows, int8_t *dst) {
  const size_t span = (size_t)l->kw * l->in_c;
  for (int32_t r = 0; r < rows; r++) {
    const int32_t p = p0 + r, oy = p / l->out_w, ox = p % l->out_w;
    const int32_t ix0 = ox * l->stride - l->pad_left;
    const int columns_inside = ix0 >= 0 && ix0 + l->kw <= l->in_w;
    int8_t *out = dst + (size_t)r * l->k;
    for (int32_t ky = 0; ky < l->kh; ky++, out += span) {
      const int32_t iy = oy * l->stride - l->pad_top + ky;
      if (iy < 0 || iy >= l->in_h) {
        memset(out, 0, span);
      } else if (columns_inside) {
        memcpy(out, in + ((size_t)iy * l->in_w + ix0) * l->in_c, span);
      } else {
        for (int32_t kx = 0; kx < l->kw; kx++) {
          const int32_t ix = ix0 + kx;
          if (ix >= 0 && ix < l->in_w) memcpy(out + (size_t)kx * l->in_c, in + ((size_t)iy * l->in_w + ix) * l->in_c, (size_t)l->in_c);
          else memset(out + (size_t)kx * l->in_c, 0, (size_t)l->in_c);
        }
      }
    }
  }
}

/* RGB pixels widened to 4 bytes and biased (the stem's pixel-quad layout); `restrict` and the fixed 3 let it vectorize. */
CLONES static void widen_rgb_pixels(uint8_t *restrict dst, const uint8_t *restrict src, int32_t pixels) {
  for (int32_t x = 0; x < pixels; x++) {
    dst[4 * x] = src[3 * x] ^ 0x80;
    dst[4 * x + 1] = src[3 * x + 1] ^ 0x80;
    dst[4 * x + 2] = src[3 * x + 2] ^ 0x80;
    dst[4 * x + 3] = 0x80;
  }
}

/*
 * Padded input rows [py_begin, py_end) of layer l into dst, biased to unsigned (x + 128; padding is 128). Pixels keep
 * their channels, except that a pixel-quad conv's are widened to 4 (the extra ones 128, with weight 0). Each thread
 * pads the rows its own output rows read, halo included, so no thread waits for or shares another's.
 */
CLONES static void pad_rows(effnet_int8_engine *e, const layer_t *l, int32_t py_begin, int32_t py_end, uint8_t *dst) {
  const uint8_t *in = (const uint8_t *)layer_input(e, l);
  const int32_t c_count = l->in_c, width = pixel_quad_conv(l) ? 4 : c_count;
  const size_t left = (size_t)l->pad_left * width, inner = (size_t)l->in_w * width, row_bytes = padded_row_bytes(l);
  for (int32_t py = py_begin; py < py_end; py++, dst += row_bytes) {
    const int32_t iy = py - l->pad_top;
    memset(dst, 0x80, row_bytes);
    if (iy < 0 || iy >= l->in_h) continue;
    const uint8_t *src = in + (size_t)iy * l->in_w * c_count;
    if (width == c_count) {
      for (size_t i = 0; i < inner; i++) dst[left + i] = src[i] ^ 0x80;
    } else if (c_count == 3) {
      widen_rgb_pixels(dst + left, src, l->in_w);
    } else {
      for (int32_t x = 0; x < l->in_w; x++) {
        for (int32_t c = 0; c < c_count; c++) dst[left + (size_t)x * 4 + c] = src[(size_t)x * c_count + c] ^ 0x80;
      }
    }
  }
}

/* What follows a conv's requantize, on its output values [offset, offset + count) while they are in cache. */
static void finish_conv_rows(effnet_int8_engine *e, const layer_t *l, int8_t *dst, size_t offset, size_t count) {
  if (l->flags & FLAG_ACTIVATION) e->kernels->apply_table(dst, count, l->table);
  if (l->flags & FLAG_RESIDUAL) {
    e->kernels->residual(dst, tensor(e, l->res_slot, (size_t)l->out_h * l->out_w * l->out_c) + offset, (int32_t)count, l->res_main_scale, l->res_skip_scale, l->res_out_scale);
  }
}

/* Where thread `thread` of `threads` starts in `items`, rounded to a multiple of `align` (the last thread ends at items). */
static int32_t share_start(int32_t items, int32_t thread, int32_t threads, int32_t align) {
  if (thread >= threads) return items;
  const int32_t at = (int32_t)(((int64_t)items * thread / threads + align / 2) / align * align);
  return at < items ? at : items;
}

/* Output pixels [p0, p0 + rows) of a conv's input, as GEMM rows in the thread's scratch (the SE gate applied). */
static void pack_conv_chunk(effnet_int8_engine *e, const layer_t *l, scratch_t *s, const int8_t *in, int32_t p0, int32_t rows) {
  const int pointwise = l->kh == 1 && l->kw == 1 && l->stride == 1 && l->pad_top == 0 && l->pad_left == 0;
  const int8_t *source = in + (size_t)p0 * l->in_c;
  if (!pointwise) {
    gather_patches(l, in, p0, rows, s->patches);
    source = s->patches;
  }
  e->kernels->pack_rows(source, rows, l->k, l->k_pad, s->rows, (l->flags & FLAG_SE_INPUT) ? e->gate : NULL, l->gate_in_scale, l->gate_out_scale);
  /* Rows past the end of the chunk up to a multiple of 4: any values (their outputs are not stored), but defined ones. */
  const int32_t rows4 = (rows + 3) & ~3;
  memset(s->rows + (size_t)rows * l->k_pad, 0, sizeof(int16_t) * (size_t)(rows4 - rows) * l->k_pad);
}

/* The packed chunk's output channels in 8-channel blocks [block_begin, block_end), requantized and finished. */
static void conv_chunk(effnet_int8_engine *e, const layer_t *l, scratch_t *s, int8_t *out, int32_t p0, int32_t rows,
                       int32_t block_begin, int32_t block_end) {
  const kernels_t *k = e->kernels;
  const int32_t rows4 = (rows + 3) & ~3;
  int8_t *dst = out + (size_t)p0 * l->out_c;
  if (!k->gemm_requant) {
    k->gemm(l, s->rows, rows4, s->acc);
    k->requant(s->acc, rows, l->out_c, l->n_pad, l->bias, l->mult, l->shift, dst);
  } else {
    k->gemm_requant(l, s->rows, rows4, rows, block_begin, block_end, dst);
  }
  const int32_t c_begin = block_begin * 8, c_end = block_end * 8 < l->out_c ? block_end * 8 : l->out_c;
  if (c_begin == 0 && c_end == l->out_c) {
    finish_conv_rows(e, l, dst, (size_t)p0 * l->out_c, (size_t)rows * l->out_c);
    return;
  }
  for (int32_t r = 0; r < rows; r++) {
    const size_t offset = (size_t)r * l->out_c + c_begin;
    finish_conv_rows(e, l, dst + offset, (size_t)p0 * l->out_c + offset, (size_t)(c_end - c_begin));
  }
}

/*
 * A conv's work: each thread takes a run of output pixels, in chunks of CHUNK_ROWS. The runs start at multiples of 4
 * pixels, so with a multiple of 16 channels no cache line is written by two threads, and each thread mostly reads
 * what it wrote in the layer before. Only where a thread would get fewer than 16 pixels are the chunks split by
 * output channels instead: a channel split makes both threads read the whole input and write parts of each line.
 */
static void conv_task(void *raw, int32_t thread, int32_t threads) {
  const task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const kernels_t *k = e->kernels;
  scratch_t *s = &e->scratch[thread];
  const int8_t *in = layer_input(e, l);
  int8_t *out = layer_output(e, l);
  if (k->pixel_quad_conv && pixel_quad_conv(l)) {
    /* Whole output rows, each thread its share. */
    const int32_t row_first = share_start(l->out_h, thread, threads, 1), row_last = share_start(l->out_h, thread + 1, threads, 1);
    if (row_first >= row_last) return;
    const int32_t py_begin = row_first * l->stride;
    pad_rows(e, l, py_begin, (row_last - 1) * l->stride + l->kh, s->padded);
    for (int32_t oy = row_first; oy < row_last; oy++) {
      int8_t *dst = out + (size_t)oy * l->out_w * l->out_c;
      k->pixel_quad_conv(l, s->padded + (size_t)(oy * l->stride - py_begin) * padded_row_bytes(l), dst);
      finish_conv_rows(e, l, dst, (size_t)oy * l->out_w * l->out_c, (size_t)l->out_w * l->out_c);
    }
    return;
  }
  const int32_t pixels = l->out_h * l->out_w, blocks = l->n_pad / 8, block_pairs = (blocks + 1) / 2;
  if (!k->gemm_requant || threads == 1 || pixels >= 16 * threads || block_pairs == 1) {
    const int32_t first = share_start(pixels, thread, threads, 4), last = share_start(pixels, thread + 1, threads, 4);
    for (int32_t p0 = first; p0 < last; p0 += CHUNK_ROWS) {
      const int32_t rows = last - p0 < CHUNK_ROWS ? last - p0 : CHUNK_ROWS;
      pack_conv_chunk(e, l, s, in, p0, rows);
      conv_chunk(e, l, s, out, p0, rows, 0, blocks);
    }
    return;
  }
  /* The channel split: every chunk, each thread its share of the output channels (in pairs of 8-channel blocks). */
  const int32_t parts = threads < block_pairs ? threads : block_pairs, chunks = (pixels + CHUNK_ROWS - 1) / CHUNK_ROWS;
  const int32_t first = share_start(chunks * parts, thread, threads, 1), last = share_start(chunks * parts, thread + 1, threads, 1);
  int32_t packed_chunk = -1;
  for (int32_t item = first; item < last; item++) {
    const int32_t chunk = item / parts, part = item % parts;
    const int32_t p0 = chunk * CHUNK_ROWS, rows = pixels - p0 < CHUNK_ROWS ? pixels - p0 : CHUNK_ROWS;
    if (chunk != packed_chunk) pack_conv_chunk(e, l, s, in, p0, rows);
    packed_chunk = chunk;
    const int32_t block_begin = 2 * share_start(block_pairs, part, parts, 1), block_end = 2 * share_start(block_pairs, part + 1, parts, 1);
    conv_chunk(e, l, s, out, p0, rows, block_begin, block_end < blocks ? block_end : blocks);
  }
}

/* Depthwise rows, each thread its run (see conv_task); with the fused kernel and under 2 rows a thread, rows × channel blocks. */
CLONES static void depthwise_task(void *raw, int32_t thread, int32_t threads) {
  const task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const kernels_t *k = e->kernels;
  scratch_t *s = &e->scratch[thread];
  const int32_t c_count = l->in_c, block = k->depthwise_fused ? k->depthwise_block : 1, blocks = round_up(c_count, block) / block;
  int32_t parts = k->depthwise_fused && threads > 1 && l->out_h < 2 * threads ? threads : 1;
  if (parts > blocks) parts = blocks;
  const int32_t items = l->out_h * parts;
  const int32_t first = share_start(items, thread, threads, 1), last = share_start(items, thread + 1, threads, 1);
  const int8_t *in = layer_input(e, l);
  int8_t *out = layer_output(e, l);
  int32_t *pool = s->pool;
  if (l->flags & FLAG_POOL) memset(pool, 0, sizeof(int32_t) * (size_t)round_up(c_count, block));
  const int32_t py_begin = first < last ? first / parts * l->stride : 0;
  if (k->depthwise_fused && first < last) pad_rows(e, l, py_begin, ((last - 1) / parts) * l->stride + l->kh, s->padded);
  for (int32_t item = first; item < last; item++) {
    const int32_t oy = item / parts, part = item % parts;
    int8_t *dst = out + (size_t)oy * l->out_w * c_count;
    if (k->depthwise_fused) {
      const int32_t block_begin = share_start(blocks, part, parts, 1), block_end = share_start(blocks, part + 1, parts, 1);
      k->depthwise_fused(l, s->padded + (size_t)(oy * l->stride - py_begin) * padded_row_bytes(l), block_begin, block_end, dst, pool);
      continue;
    }
    k->depthwise_row(l, in, oy, s->acc);
    k->requant(s->acc, l->out_w, c_count, c_count, l->bias, l->mult, l->shift, dst);
    if (l->flags & FLAG_ACTIVATION) {
      k->apply_table(dst, (size_t)l->out_w * c_count, l->table);
    }
    /* The SE block's global average pool accumulates while the output is produced, row by row in cache. */
    if (l->flags & FLAG_POOL) {
      for (int32_t ox = 0; ox < l->out_w; ox++) {
        const int8_t *px = dst + (size_t)ox * c_count;
        for (int32_t c = 0; c < c_count; c++) pool[c] += px[c];
      }
    }
  }
}

/*
 * The squeeze-excitation vector math as the Q/DQ graph computes it: GAP → Q, FC1 → Q → SiLU table, FC2 → Sigmoid → Q.
 * The FC outputs and the gate's Sigmoid input are floats in the graph (one value per channel, so float costs nothing).
 */
CLONES static void run_se(effnet_int8_engine *e, const layer_t *l) {
  const int32_t c_count = l->in_c, reduced = l->reduced;
  const double pool_scale = (double)l->se_in_scale / ((double)l->in_h * l->in_w);
  float *values = e->se_values;
  int32_t *acc = e->se_acc;
  for (int32_t c = 0; c < c_count; c++) {
    int64_t sum = 0;
    for (int32_t t = 0; t < e->threads; t++) sum += e->scratch[t].pool[c];
    values[c] = (float)(sum * pool_scale);
  }
  e->kernels->quantize(values, (size_t)c_count, l->pool_scale, e->pooled);
  for (int32_t r = 0; r < reduced; r++) {
    const int8_t *w = l->fc1_weights + (size_t)r * c_count;
    int32_t sum = 0;
    for (int32_t c = 0; c < c_count; c++) sum += e->pooled[c] * w[c];
    values[r] = (float)sum * l->fc1_scale[r] + l->fc1_bias[r];
  }
  e->kernels->quantize(values, (size_t)reduced, l->fc1_out_scale, e->fc1_out);
  for (int32_t r = 0; r < reduced; r++) e->fc1_out[r] = l->table[(uint8_t)e->fc1_out[r]];
  memset(acc, 0, sizeof(int32_t) * (size_t)c_count);
  for (int32_t r = 0; r < reduced; r++) {
    const int8_t *w = l->fc2_weights + (size_t)r * c_count;
    const int32_t x = e->fc1_out[r];
    for (int32_t c = 0; c < c_count; c++) acc[c] += x * w[c];
  }
  if (l->gate_table) {
    /* The graph quantizes the FC2 output and its Sigmoid reads that int8 value: a table. */
    int8_t *quantized = e->staging;
    for (int32_t c = 0; c < c_count; c++) values[c] = (float)acc[c] * l->fc2_scale[c] + l->fc2_bias[c];
    e->kernels->quantize(values, (size_t)c_count, l->fc2_out_scale, quantized);
    for (int32_t c = 0; c < c_count; c++) e->gate[c] = l->gate_table[(uint8_t)quantized[c]];
    return;
  }
  /* Bundles whose FC2 output is float: the Sigmoid of it in double (the graph's float32 conv and Sigmoid carry their own
   * rounding; the exact value is the fairest target). In stages, so that all but exp run on vectors. */
  double *logit = e->se_logits;
  for (int32_t c = 0; c < c_count; c++) logit[c] = (double)acc[c] * l->fc2_scale[c] + l->fc2_bias[c];
  for (int32_t c = 0; c < c_count; c++) logit[c] = exp(-logit[c]);
  for (int32_t c = 0; c < c_count; c++) values[c] = (float)(1.0 / (1.0 + logit[c]));
  int8_t *quantized = e->staging;
  e->kernels->quantize(values, (size_t)c_count, l->gate_scale, quantized);
  for (int32_t c = 0; c < c_count; c++) e->gate[c] = (float)quantized[c] * l->gate_scale;
}

typedef struct {
  effnet_int8_engine *e;
  const layer_t *l;
  float *logits;
} head_task_t;

/* The classifier (1000 × 1280 for ImageNet B0) split over the threads by class. */
CLONES static void classifier_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  const layer_t *l = task->l;
  const int32_t c_count = l->in_c;
  const int32_t first = share_start(l->out_c, thread, threads, 1), last = share_start(l->out_c, thread + 1, threads, 1);
  for (int32_t o = first; o < last; o++) {
    const int8_t *w = l->weights + (size_t)o * c_count;
    int32_t acc = 0;
    for (int32_t c = 0; c < c_count; c++) acc += task->e->pooled[c] * w[c];
    task->logits[o] = (float)acc * l->head_scale[o] + l->head_bias[o];
  }
}

/* The head's global average pool, channels split by thread (each channel summed in pixel order, as on one thread). */
CLONES static void head_pool_task(void *raw, int32_t thread, int32_t threads) {
  const head_task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const int8_t *in = layer_input(e, l);
  const int32_t pixels = l->in_h * l->in_w, c_count = l->in_c, groups = (c_count + 15) / 16;
  const int32_t first = share_start(groups, thread, threads, 1) * 16, group_end = share_start(groups, thread + 1, threads, 1) * 16;
  const int32_t last = group_end < c_count ? group_end : c_count;
  double *sums = e->head_sums;
  for (int32_t c = first; c < last; c++) sums[c] = 0;
  /* With a table the pooled values are the activation's float outputs (the graph pools them unquantized). */
  for (int32_t p = 0; p < pixels; p++) {
    const int8_t *px = in + (size_t)p * c_count;
    if (l->head_table) {
      for (int32_t c = first; c < last; c++) sums[c] += l->head_table[(uint8_t)px[c]];
    } else {
      for (int32_t c = first; c < last; c++) sums[c] += px[c] * (double)l->head_in_scale;
    }
  }
  for (int32_t c = first; c < last; c++) e->pooled[c] = quantize_value((float)(sums[c] / pixels), l->head_pool_scale);
}

static void run_head(effnet_int8_engine *e, const layer_t *l, float *logits) {
  head_task_t task = {e, l, logits};
  pool_run(&e->pool, head_pool_task, &task);
  pool_run(&e->pool, classifier_task, &task);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void run_layers(effnet_int8_engine *e, float *logits) {
  for (int32_t i = 0; i < e->layer_count; i++) {
    layer_t *l = &e->layers[i];
    const double start = e->profiling ? now_ns() : 0;
    task_t task = {e, l};
    switch (l->kind) {
      case KIND_CONV: pool_run(&e->pool, conv_task, &task); break;
      case KIND_DEPTHWISE: pool_run(&e->pool, depthwise_task, &task); break;
      case KIND_SE: run_se(e, l); break;
      case KIND_HEAD: if (logits) run_head(e, l, logits); break;
    }
    if (e->profiling) l->total_ns += now_ns() - start;
  }
}

typedef struct {
  effnet_int8_engine *e;
  const float *image; /* NCHW */
} input_task_t;

/* Three planes into RGB pixels; `restrict` and the fixed 3 let it vectorize. */
CLONES static void interleave_rgb(int8_t *restrict dst, const int8_t *restrict r, const int8_t *restrict g, const int8_t *restrict b, size_t pixels) {
  for (size_t p = 0; p < pixels; p++) {
    dst[3 * p] = r[p];
    dst[3 * p + 1] = g[p];
    dst[3 * p + 2] = b[p];
  }
}

/* The input's QuantizeLinear with the path's kernel, per plane, then interleaved into NHWC; pixels split by thread. */
static void input_task(void *raw, int32_t thread, int32_t threads) {
  const input_task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const size_t plane = (size_t)e->height * e->width, channels = (size_t)e->channels;
  const size_t first = plane * thread / threads, last = plane * (thread + 1) / threads;
  int8_t *nhwc = network_input(e);
  for (size_t c = 0; c < channels; c++) {
    e->kernels->quantize(task->image + c * plane + first, last - first, e->input_scale, e->staging + c * plane + first);
  }
  if (channels == 3) {
    interleave_rgb(nhwc + first * 3, e->staging + first, e->staging + plane + first, e->staging + 2 * plane + first, last - first);
    return;
  }
  for (size_t p = first; p < last; p++) {
    for (size_t c = 0; c < channels; c++) nhwc[p * channels + c] = e->staging[c * plane + p];
  }
}

typedef struct {
  effnet_int8_engine *e;
  const float *input; /* NCHW images */
  float *logits;
  int32_t images;
} images_task_t;

/* Images thread, thread + threads, … on this thread's one-thread view, with no barrier between layers. */
static void images_task(void *raw, int32_t thread, int32_t threads) {
  const images_task_t *task = raw;
  effnet_int8_engine *v = task->e->views[thread];
  v->kernels = task->e->kernels; /* effnet_int8_set_isa may have changed them since the view was made */
  const size_t image = (size_t)v->channels * v->height * v->width;
  for (int32_t n = thread; n < task->images; n += threads) {
    input_task_t input = {v, task->input + (size_t)n * image};
    input_task(&input, 0, 1);
    run_layers(v, task->logits + (size_t)n * v->classes);
  }
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
  /* Whole rounds of one image per thread; the rest (all of batch 1) layer by layer on all threads. */
  const int32_t parallel = e->threads > 1 ? batch / e->threads * e->threads : 0;
  if (parallel > 0) {
    images_task_t task = {e, input, logits, parallel};
    pool_run(&e->pool, images_task, &task);
  }
  for (int32_t n = parallel; n < batch; n++) {
    input_task_t task = {e, input + (size_t)n * channels * height * width};
    pool_run(&e->pool, input_task, &task);
    run_layers(e, logits + (size_t)n * e->classes);
  }
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
  memcpy(network_input(e), input, expected);
  run_layers(e, NULL);
  memcpy(output, tensor(e, e->last_slot, e->output_count), output_count);
  return EFFNET_INT8_OK;
}
