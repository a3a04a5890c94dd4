/* The instruction-set paths: which this CPU and build run, their names, and the weights packed for one. */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>

#include "engine.h"

const kernels_t *kernels_for(int32_t isa) {
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

const char *isa_name(int32_t isa) {
  switch (isa) {
    case EFFNET_INT8_ISA_SCALAR: return "scalar";
    case EFFNET_INT8_ISA_AVX2: return "avx2";
    case EFFNET_INT8_ISA_NEON: return "neon";
    case EFFNET_INT8_ISA_AVX_VNNI: return "avx-vnni";
    case EFFNET_INT8_ISA_AVX512: return "avx512";
    default: return "auto";
  }
}

effnet_int8_status use_kernels(effnet_int8_engine *e, const kernels_t *k) {
  for (int32_t i = 0; i < e->layer_count; i++) {
    layer_t *l = &e->layers[i];
    if (l->kind != KIND_CONV && l->kind != KIND_DEPTHWISE) continue; /* only they have weights a path lays out */
    free(l->conv.packed);
    l->conv.packed = NULL;
    l->conv.float_requant = 0;
    const size_t bytes = k->packed_size(l);
    if (bytes == 0) continue;
    l->conv.packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!l->conv.packed) return EFFNET_INT8_OUT_OF_MEMORY;
    k->pack_weights(l);
  }
  e->kernels = k;
  return EFFNET_INT8_OK;
}
