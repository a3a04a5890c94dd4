/*
 * The engine-file loader. It trusts nothing in the file: every count, shape, slot and multiplier is range-checked
 * before anything is allocated or indexed, so a truncated, bit-flipped or foreign file is an error message, never a
 * crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine file is little-endian and read in place; big-endian hosts are not supported"
#endif

#define HEADER_SIZE 56
static const char MAGIC[8] = {'E', 'F', 'N', 'T', 'I', 'N', 'T', '8'};

void free_layers(effnet_int8_engine *e) {
  if (!e->layers) return;
  for (int32_t i = 0; i < e->layer_count; i++) {
    const layer_t *l = &e->layers[i];
    const conv_layer_t *c = &l->conv;
    const se_layer_t *se = &l->se;
    const head_layer_t *h = &l->head;
    if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
      void *arrays[] = {c->weights, c->packed, c->bias, c->mult, c->shift};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    } else if (l->kind == KIND_SE) {
      void *arrays[] = {se->fc1_weights, se->fc2_weights, se->fc1_scale, se->fc1_bias, se->fc2_scale, se->fc2_bias, se->gate_table};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    } else if (l->kind == KIND_HEAD) {
      void *arrays[] = {h->weights, h->scale, h->bias, h->table};
      for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    }
  }
  free(e->layers);
  e->layers = NULL;
}


/* The header's checks, in the order a damaged file is most usefully described; the header's words on success. */
static effnet_int8_status check_header(const uint8_t *bytes, size_t size, uint32_t header[12], char *error, size_t error_size) {
  if (size < 8 || memcmp(bytes, MAGIC, 8) != 0) {
    set_error(error, error_size, "not an effnet-edge int8 engine file (no EFNTINT8 signature)");
    return EFFNET_INT8_FORMAT_ERROR;
  }
  if (size < HEADER_SIZE) {
    set_error(error, error_size, "truncated: %zu bytes, shorter than the %d-byte header", size, HEADER_SIZE);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  memcpy(header, bytes + 8, 12 * sizeof(uint32_t));
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
  return EFFNET_INT8_OK;
}

/* The header's input, classes and layout into e; FORMAT_ERROR (with the values) where one is out of range. */
static effnet_int8_status read_header_values(effnet_int8_engine *e, const uint32_t header[12], char *error, size_t error_size) {
  e->channels = (int32_t)header[4];
  e->height = (int32_t)header[5];
  e->width = (int32_t)header[6];
  e->classes = (int32_t)header[7];
  e->slot_count = (int32_t)header[8];
  e->layer_count = (int32_t)header[9];
  e->input_slot = (int32_t)header[10];
  memcpy(&e->input_scale, &header[11], 4);
  if (e->channels < 1 || e->channels > 16384 || e->height < 1 || e->height > 4096 || e->width < 1 || e->width > 4096 ||
      e->classes < 0 || e->classes > 100000 || e->slot_count < 1 || e->slot_count > MAX_SLOTS || e->layer_count < 1 ||
      e->layer_count > 4096 || e->input_slot < 0 || e->input_slot >= e->slot_count || !positive_normal(e->input_scale)) {
    set_error(error, error_size, "header values out of range (input %dx%dx%d, %d classes, %d slots, %d layers, input scale %g)",
              e->channels, e->height, e->width, e->classes, e->slot_count, e->layer_count, (double)e->input_scale);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  return EFFNET_INT8_OK;
}

/* Every layer in file order, each checked against the shapes the layers before it wrote; then nothing may follow. */
static effnet_int8_status read_layers(effnet_int8_engine *e, const uint8_t *bytes, size_t size, char *error, size_t error_size) {
  e->layers = calloc((size_t)e->layer_count, sizeof(layer_t));
  if (!e->layers) return EFFNET_INT8_OUT_OF_MEMORY;
  reader_t reader = {bytes, size, HEADER_SIZE, 0};
  shape_t shapes[MAX_SLOTS] = {{0}}, pooled = {0};
  int32_t gate_channels = -1;
  shapes[e->input_slot] = (shape_t){e->height, e->width, e->channels, 1};
  for (int32_t i = 0; i < e->layer_count; i++) {
    const effnet_int8_status status = read_layer(e, &reader, i, shapes, &pooled, &gate_channels, error, error_size);
    if (status != EFFNET_INT8_OK) return status;
    const layer_t *l = &e->layers[i];
    if (l->kind == KIND_CONV || l->kind == KIND_DEPTHWISE) {
      e->last_slot = l->conv.out_slot;
      e->output_count = (size_t)l->conv.out_h * l->conv.out_w * l->conv.out_c;
    }
    e->macs += l->macs;
  }
  if (reader.offset != size) {
    set_error(error, error_size, "%zu bytes after the last layer", size - reader.offset);
    return EFFNET_INT8_FORMAT_ERROR;
  }
  return EFFNET_INT8_OK;
}

effnet_int8_status engine_from_file(const uint8_t *bytes, size_t size, effnet_int8_engine **engine, char *error,
                                    size_t error_size) {
  *engine = NULL;
  uint32_t header[12];
  effnet_int8_status status = check_header(bytes, size, header, error, error_size);
  if (status != EFFNET_INT8_OK) return status;
  effnet_int8_engine *e = calloc(1, sizeof *e);
  if (!e) return EFFNET_INT8_OUT_OF_MEMORY;
  e->pool.count = 1;
  e->threads = 1;
  e->image_split = 1;
  *engine = e;
  status = read_header_values(e, header, error, error_size);
  if (status == EFFNET_INT8_OK) status = read_layers(e, bytes, size, error, error_size);
  return status;
}
