/*
 * Conv and depthwise layers on the pool's threads: the input gathered or padded per thread, the kernels' GEMM or
 * depthwise rows, then what follows a requantize (the activation table, the residual add, the SE pool).
 */
#include <string.h>

#include "engine.h"

/* im2col for a k×k conv (the stem): one int8 row of kh*kw*in_c values per output pixel, the input's zero outside it. */
static void gather_patches(const layer_t *l, const int8_t *in, int32_t p0, int32_t rows, int8_t *dst) {
  const size_t span = (size_t)l->conv.kw * l->conv.in_c;
  for (int32_t r = 0; r < rows; r++) {
    const int32_t p = p0 + r, oy = p / l->conv.out_w, ox = p % l->conv.out_w;
    const int32_t ix0 = ox * l->conv.stride - l->conv.pad_left;
    const int columns_inside = ix0 >= 0 && ix0 + l->conv.kw <= l->conv.in_w;
    int8_t *out = dst + (size_t)r * l->conv.k;
    for (int32_t ky = 0; ky < l->conv.kh; ky++, out += span) {
      const int32_t iy = oy * l->conv.stride - l->conv.pad_top + ky;
      if (iy < 0 || iy >= l->conv.in_h) {
        memset(out, l->conv.in_zero, span);
      } else if (columns_inside) {
        memcpy(out, in + ((size_t)iy * l->conv.in_w + ix0) * l->conv.in_c, span);
      } else {
        for (int32_t kx = 0; kx < l->conv.kw; kx++) {
          const int32_t ix = ix0 + kx;
          if (ix >= 0 && ix < l->conv.in_w) memcpy(out + (size_t)kx * l->conv.in_c, in + ((size_t)iy * l->conv.in_w + ix) * l->conv.in_c, (size_t)l->conv.in_c);
          else memset(out + (size_t)kx * l->conv.in_c, l->conv.in_zero, (size_t)l->conv.in_c);
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
 * Padded input rows [py_begin, py_end) of layer l into dst, biased to unsigned (x + 128; padding is the input's zero,
 * in_zero + 128: 128 for a symmetric tensor). Pixels keep
 * their channels, except that a pixel-quad conv's are widened to 4 (the extra ones 128, with weight 0). Each thread
 * pads the rows its own output rows read, halo included, so no thread waits for or shares another's.
 */
CLONES static void pad_rows(effnet_int8_engine *e, const layer_t *l, int32_t py_begin, int32_t py_end, uint8_t *dst) {
  const uint8_t *in = (const uint8_t *)layer_input(e, l);
  const int32_t c_count = l->conv.in_c, width = pixel_quad_conv(l) ? 4 : c_count;
  const size_t left = (size_t)l->conv.pad_left * width, inner = (size_t)l->conv.in_w * width, row_bytes = padded_row_bytes(l);
  const uint8_t padding = (uint8_t)(l->conv.in_zero + 128);
  for (int32_t py = py_begin; py < py_end; py++, dst += row_bytes) {
    const int32_t iy = py - l->conv.pad_top;
    if (iy < 0 || iy >= l->conv.in_h) {
      memset(dst, padding, row_bytes);
      continue;
    }
    /* Only the margins: the inner pixels are all written below (a pixel-quad conv's extra channels too). */
    memset(dst, padding, left);
    memset(dst + left + inner, padding, row_bytes - left - inner);
    const uint8_t *src = in + (size_t)iy * l->conv.in_w * c_count;
    if (width == c_count) {
      for (size_t i = 0; i < inner; i++) dst[left + i] = src[i] ^ 0x80;
    } else if (c_count == 3) {
      widen_rgb_pixels(dst + left, src, l->conv.in_w);
    } else {
      for (int32_t x = 0; x < l->conv.in_w; x++) {
        for (int32_t c = 0; c < 4; c++) dst[left + (size_t)x * 4 + c] = c < c_count ? src[(size_t)x * c_count + c] ^ 0x80 : padding;
      }
    }
  }
}

/* What follows a conv's requantize, on its output values [offset, offset + count) while they are in cache. */
static void finish_conv_rows(effnet_int8_engine *e, const layer_t *l, int8_t *dst, size_t offset, size_t count) {
  if ((l->flags & FLAG_ACTIVATION) && !e->kernels->conv_applies_table) e->kernels->apply_table(dst, count, l->conv.table);
  if (l->flags & FLAG_RESIDUAL) {
    e->kernels->residual(dst, tensor(e, l->conv.residual.slot, (size_t)l->conv.out_h * l->conv.out_w * l->conv.out_c) + offset, (int32_t)count, l->conv.residual.main_scale, l->conv.residual.skip_scale, l->conv.residual.out_scale);
  }
}

/* Output pixels [p0, p0 + rows) of a conv's input, as GEMM rows in the thread's scratch (the SE gate applied). */
static void pack_conv_chunk(effnet_int8_engine *e, const layer_t *l, scratch_t *s, const int8_t *in, int32_t p0, int32_t rows) {
  const int pointwise = l->conv.kh == 1 && l->conv.kw == 1 && l->conv.stride == 1 && l->conv.pad_top == 0 && l->conv.pad_left == 0;
  const int8_t *source = in + (size_t)p0 * l->conv.in_c;
  if (!pointwise) {
    gather_patches(l, in, p0, rows, s->patches);
    source = s->patches;
  }
  e->kernels->pack_rows(source, rows, l->conv.k, l->conv.k_pad, s->rows, (l->flags & FLAG_SE_INPUT) ? e->gate : NULL, &l->conv.gate);
  /* Rows past the end of the chunk up to a multiple of 4: any values (their outputs are not stored), but defined ones. */
  const int32_t rows4 = (rows + 3) & ~3;
  memset(s->rows + (size_t)rows * l->conv.k_pad, 0, sizeof(int16_t) * (size_t)(rows4 - rows) * l->conv.k_pad);
}

/* The packed chunk's output channels in 8-channel blocks [block_begin, block_end), requantized and finished. */
static void conv_chunk(effnet_int8_engine *e, const layer_t *l, scratch_t *s, int8_t *out, int32_t p0, int32_t rows,
                       int32_t block_begin, int32_t block_end) {
  const kernels_t *k = e->kernels;
  const int32_t rows4 = (rows + 3) & ~3;
  int8_t *dst = out + (size_t)p0 * l->conv.out_c;
  if (!k->gemm_requant) {
    k->gemm(l, s->rows, rows4, s->acc);
    k->requant(s->acc, rows, l->conv.out_c, l->conv.n_pad, l->conv.bias, l->conv.mult, l->conv.shift, dst);
  } else {
    k->gemm_requant(l, s->rows, rows4, rows, block_begin, block_end, dst);
  }
  const int32_t c_begin = block_begin * 8, c_end = block_end * 8 < l->conv.out_c ? block_end * 8 : l->conv.out_c;
  if (c_begin == 0 && c_end == l->conv.out_c) {
    finish_conv_rows(e, l, dst, (size_t)p0 * l->conv.out_c, (size_t)rows * l->conv.out_c);
    return;
  }
  for (int32_t r = 0; r < rows; r++) {
    const size_t offset = (size_t)r * l->conv.out_c + c_begin;
    finish_conv_rows(e, l, dst + offset, (size_t)p0 * l->conv.out_c + offset, (size_t)(c_end - c_begin));
  }
}

/* The padded input rows a thread holds in its scratch (pad_rows): [begin, end), contiguous. */
typedef struct {
  int32_t begin, end;
} padded_window_t;

/* Padded rows [from, to) of layer l, padding only what the thread's window lacks; rows that do not continue the window
 * start it over (the scratch holds every padded row of a layer, so a window never outgrows it). */
static const uint8_t *padded_rows(effnet_int8_engine *e, const layer_t *l, scratch_t *s, padded_window_t *w, int32_t from, int32_t to) {
  if (from < w->begin || from > w->end) w->begin = w->end = from;
  if (to > w->end) {
    pad_rows(e, l, w->end, to, s->padded + (size_t)(w->end - w->begin) * padded_row_bytes(l));
    w->end = to;
  }
  return s->padded + (size_t)(from - w->begin) * padded_row_bytes(l);
}

/* The output channel parts of a conv's chunks: 1 (runs of pixels) unless a thread would get fewer than 16 pixels. */
static int32_t conv_parts(const effnet_int8_engine *e, const layer_t *l) {
  const int32_t threads = e->threads, pixels = l->conv.out_h * l->conv.out_w, block_pairs = (l->conv.n_pad / 8 + 1) / 2;
  if (!e->kernels->gemm_requant || threads == 1 || pixels >= 16 * threads || block_pairs == 1) return 1;
  return threads < block_pairs ? threads : block_pairs;
}

/*
 * A conv's work: each thread's run of output pixels, in items of CHUNK_ROWS. The runs start at multiples of 4 pixels,
 * so with a multiple of 16 channels no cache line is written by two threads, and each thread mostly reads what it
 * wrote in the layer before. Only where a thread would get fewer than 16 pixels are the chunks split by output
 * channels too: a channel split makes both threads read the whole input and write parts of each line.
 */
pool_split_t conv_split(const effnet_int8_engine *e, const layer_t *l) {
  if (e->kernels->pixel_quad_conv && pixel_quad_conv(l)) return (pool_split_t){l->conv.out_h, 1, 1};
  const int32_t parts = conv_parts(e, l), pixels = l->conv.out_h * l->conv.out_w;
  if (parts == 1) return (pool_split_t){pixels, 4, CHUNK_ROWS};
  return (pool_split_t){(pixels + CHUNK_ROWS - 1) / CHUNK_ROWS * parts, 1, 1};
}

void conv_task(void *raw, pool_claim_t *claim) {
  const task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const kernels_t *k = e->kernels;
  scratch_t *s = &e->scratch[claim->thread];
  const int8_t *in = layer_input(e, l);
  int8_t *out = layer_output(e, l);
  if (k->pixel_quad_conv && pixel_quad_conv(l)) {
    /* Whole output rows. */
    padded_window_t window = {0, 0};
    do {
      for (int32_t oy = claim->begin; oy < claim->end; oy++) {
        int8_t *dst = out + (size_t)oy * l->conv.out_w * l->conv.out_c;
        k->pixel_quad_conv(l, padded_rows(e, l, s, &window, oy * l->conv.stride, oy * l->conv.stride + l->conv.kh), dst);
        finish_conv_rows(e, l, dst, (size_t)oy * l->conv.out_w * l->conv.out_c, (size_t)l->conv.out_w * l->conv.out_c);
      }
    } while (pool_next(claim));
    return;
  }
  const int32_t pixels = l->conv.out_h * l->conv.out_w, blocks = l->conv.n_pad / 8, block_pairs = (blocks + 1) / 2;
  const int32_t parts = conv_parts(e, l);
  if (parts == 1) {
    do {
      pack_conv_chunk(e, l, s, in, claim->begin, claim->end - claim->begin);
      conv_chunk(e, l, s, out, claim->begin, claim->end - claim->begin, 0, blocks);
    } while (pool_next(claim));
    return;
  }
  /* The channel split: items are (chunk, part), a part being its share of the output channels (pairs of 8-channel blocks). */
  int32_t packed_chunk = -1;
  do {
    const int32_t chunk = claim->begin / parts, part = claim->begin % parts;
    const int32_t p0 = chunk * CHUNK_ROWS, rows = pixels - p0 < CHUNK_ROWS ? pixels - p0 : CHUNK_ROWS;
    if (chunk != packed_chunk) pack_conv_chunk(e, l, s, in, p0, rows);
    packed_chunk = chunk;
    const int32_t block_begin = 2 * share_start(block_pairs, part, parts, 1), block_end = 2 * share_start(block_pairs, part + 1, parts, 1);
    conv_chunk(e, l, s, out, p0, rows, block_begin, block_end < blocks ? block_end : blocks);
  } while (pool_next(claim));
}

/* The channel block parts of a depthwise's rows: with the fused kernel and under 2 rows a thread, one per thread. */
static int32_t depthwise_parts(const effnet_int8_engine *e, const layer_t *l) {
  const kernels_t *k = e->kernels;
  const int32_t block = k->depthwise_fused ? k->depthwise_block : 1, blocks = round_up(l->conv.in_c, block) / block;
  const int32_t parts = k->depthwise_fused && e->threads > 1 && l->conv.out_h < 2 * e->threads ? e->threads : 1;
  return parts > blocks ? blocks : parts;
}

/* Depthwise rows × channel parts, each thread its run (see conv_task); the SE pool sums start zeroed (run.c). */
pool_split_t depthwise_split(const effnet_int8_engine *e, const layer_t *l) {
  return (pool_split_t){l->conv.out_h * depthwise_parts(e, l), 1, 1};
}

/*
 * The unfused depthwise rows skip the taps outside the input, which is right where padding is 0 (symmetric inputs).
 * An input with a zero point pads with that value: its taps add in_zero · w here (the bias holds -in_zero · Σw).
 */
static void add_padding_taps(const layer_t *l, int32_t oy, int32_t *acc) {
  const int32_t c_count = l->conv.in_c, kw = l->conv.kw;
  for (int32_t ox = 0; ox < l->conv.out_w; ox++) {
    int32_t *out = acc + (size_t)ox * c_count;
    for (int32_t ky = 0; ky < l->conv.kh; ky++) {
      const int32_t iy = oy * l->conv.stride - l->conv.pad_top + ky;
      for (int32_t kx = 0; kx < kw; kx++) {
        const int32_t ix = ox * l->conv.stride - l->conv.pad_left + kx;
        if (iy >= 0 && iy < l->conv.in_h && ix >= 0 && ix < l->conv.in_w) continue;
        const int8_t *w = l->conv.weights + (size_t)(ky * kw + kx) * c_count;
        for (int32_t c = 0; c < c_count; c++) out[c] += l->conv.in_zero * w[c];
      }
    }
  }
}

CLONES void depthwise_task(void *raw, pool_claim_t *claim) {
  const task_t *task = raw;
  effnet_int8_engine *e = task->e;
  const layer_t *l = task->l;
  const kernels_t *k = e->kernels;
  scratch_t *s = &e->scratch[claim->thread];
  const int32_t c_count = l->conv.in_c, block = k->depthwise_fused ? k->depthwise_block : 1, blocks = round_up(c_count, block) / block;
  const int32_t parts = depthwise_parts(e, l);
  const int8_t *in = layer_input(e, l);
  int8_t *out = layer_output(e, l);
  int32_t *pool = s->pool;
  padded_window_t window = {0, 0};
  do {
    for (int32_t item = claim->begin; item < claim->end; item++) {
      const int32_t oy = item / parts, part = item % parts;
      int8_t *dst = out + (size_t)oy * l->conv.out_w * c_count;
      if (k->depthwise_fused) {
        const int32_t block_begin = share_start(blocks, part, parts, 1), block_end = share_start(blocks, part + 1, parts, 1);
        const uint8_t *rows = padded_rows(e, l, s, &window, oy * l->conv.stride, oy * l->conv.stride + l->conv.kh);
        k->depthwise_fused(l, rows, block_begin, block_end, dst, pool);
        continue;
      }
      k->depthwise_row(l, in, oy, s->acc);
      if (l->conv.in_zero) add_padding_taps(l, oy, s->acc);
      k->requant(s->acc, l->conv.out_w, c_count, c_count, l->conv.bias, l->conv.mult, l->conv.shift, dst);
      if (l->flags & FLAG_ACTIVATION) {
        k->apply_table(dst, (size_t)l->conv.out_w * c_count, l->conv.table);
      }
      /* The SE block's global average pool accumulates while the output is produced, row by row in cache. */
      if (l->flags & FLAG_POOL) {
        for (int32_t ox = 0; ox < l->conv.out_w; ox++) {
          const int8_t *px = dst + (size_t)ox * c_count;
          for (int32_t c = 0; c < c_count; c++) pool[c] += px[c];
        }
      }
    }
  } while (pool_next(claim));
}
