/**
 * The int8 engine file (read by native/int8/loader.c and layer_readers.c). Little-endian; every array starts 4-byte
 * aligned.
 *
 *   header (56 bytes): "EFNTINT8", u32 version, u32 header size, u32 file size, u32 CRC-32 of everything after
 *     the header, u32 channels, height, width, classes, slot count, layer count, input slot, f32 input scale
 *   layers, each: u32 kind, u32 block, u32 flags, then
 *     conv (1):      in slot, out slot, residual slot, in c, out c, kh, kw, stride, pads t l b r, input zero,
 *                    [f32 gate input scale, output scale, i32 gate input zero, output zero], [f32 residual main, skip, output scales],
 *                    i8 weights [out][kh][kw][in], i32 bias[out], multiplier[out], shift[out], [i8 table[256]]
 *     depthwise (2): in slot, out slot, c, kh, kw, stride, pads t l b r, input zero,
 *                    i8 weights [kh][kw][c], i32 bias[c], multiplier[c], shift[c], [i8 table[256]]
 *     SE (3):        c, reduced, f32 input scale, pool scale, FC1 output scale, FC1 SiLU scale, gate scale,
 *                    i32 input zero, FC1 SiLU zero, gate zero,
 *                    i8 FC1 [reduced][c], f32 FC1 scale[reduced], bias[reduced], i8 SiLU table[256],
 *                    i8 FC2 [c][reduced], f32 FC2 scale[c], bias[c], [f32 FC2 output scale, f32 gate table[256]]
 *     head (4):      in slot, c, classes, f32 input scale, pool scale, i8 weights [classes][c],
 *                    f32 scale[classes], bias[classes], [f32 activation table[256]]
 *   flags: 1 activation table (SE: gate table), 2 SE-gated input, 4 residual add, 8 SE pool.
 *
 * A zero point is the stored int8 value that stands for 0 (0, or z − 128 for a uint8 tensor with zero point z).
 *
 * Tensors live in slots of one arena; a slot is reused once its tensor's last reader has run.
 */
import { crc32 } from 'node:zlib';
import type { ConvLayer, DepthwiseLayer, EngineLayer, EngineProgram, HeadLayer, SeLayer } from './lower/program.js';

export const ENGINE_FILE_VERSION = 2;
export const ENGINE_MAGIC = 'EFNTINT8';
export const ENGINE_HEADER_SIZE = 56;
const KIND = { conv: 1, depthwise: 2, se: 3, head: 4 } as const;
const FLAG = { activation: 1, gate: 2, residual: 4, pool: 8 } as const;
const MAX_SLOTS = 64;

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(bytes: Uint8Array) {
    this.chunks.push(bytes);
    this.length += bytes.length;
    const pad = (4 - (bytes.length % 4)) % 4;
    if (pad) {
      this.chunks.push(new Uint8Array(pad));
      this.length += pad;
    }
  }
  i32(...values: number[]) {
    this.push(new Uint8Array(Int32Array.from(values).buffer));
  }
  f32(...values: number[]) {
    this.push(new Uint8Array(Float32Array.from(values).buffer));
  }
  /** An int8, int32 or float32 array, little-endian as this host stores it (x86-64 and aarch64 are). */
  array(values: Int8Array | Int32Array | Float32Array) {
    this.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice());
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function readsOf(layer: EngineLayer): string[] {
  if (layer.kind === 'conv') return [layer.input, ...(layer.residual ? [layer.residual.tensor] : [])];
  if (layer.kind === 'depthwise' || layer.kind === 'head') return [layer.input];
  return [];
}

/** Tensor → slot, reusing a slot once the last reader of its tensor has run (never the reader's own output). */
export function slotsFor(program: EngineProgram): { slots: Map<string, number>; count: number } {
  const lastRead = new Map<string, number>();
  program.layers.forEach((layer, i) => readsOf(layer).forEach((t) => lastRead.set(t, i)));
  const slots = new Map<string, number>([[program.input.tensor, 0]]);
  const holder: (string | null)[] = [program.input.tensor];
  program.layers.forEach((layer, i) => {
    for (const t of readsOf(layer)) {
      if (!slots.has(t)) throw new Error(`internal: layer ${i} reads '${t}' before it is written`);
    }
    if (layer.kind !== 'conv' && layer.kind !== 'depthwise') return;
    holder.forEach((t, s) => {
      if (t !== null && (lastRead.get(t) ?? -1) < i) holder[s] = null;
    });
    let free = holder.indexOf(null);
    if (free < 0) free = holder.push(null) - 1;
    holder[free] = layer.output;
    slots.set(layer.output, free);
  });
  if (holder.length > MAX_SLOTS)
    throw new Error(`the network needs ${holder.length} live tensors; the engine holds ${MAX_SLOTS}`);
  return { slots, count: holder.length };
}

export function engineFileFrom(program: EngineProgram): Uint8Array {
  const { slots, count } = slotsFor(program);
  const slot = (t: string) => slots.get(t)!;
  const body = new ByteWriter();
  for (const layer of program.layers) {
    if (layer.kind === 'conv') writeConv(body, layer, slot);
    else if (layer.kind === 'depthwise') writeDepthwise(body, layer, slot);
    else if (layer.kind === 'se') writeSqueezeExcitation(body, layer);
    else writeHead(body, layer, slot);
  }
  const payload = body.bytes();
  const file = new Uint8Array(ENGINE_HEADER_SIZE + payload.length);
  file.set(headerFor(program, payload, count), 0);
  file.set(payload, ENGINE_HEADER_SIZE);
  return file;
}

type SlotOf = (tensor: string) => number;

function writeConv(body: ByteWriter, layer: ConvLayer, slot: SlotOf): void {
  const flags =
    (layer.table ? FLAG.activation : 0) | (layer.gate ? FLAG.gate : 0) | (layer.residual ? FLAG.residual : 0);
  body.i32(
    KIND.conv,
    layer.block,
    flags,
    slot(layer.input),
    slot(layer.output),
    layer.residual ? slot(layer.residual.tensor) : -1,
    layer.inChannels,
    layer.outChannels,
    ...layer.kernel,
    layer.stride,
    ...layer.pads,
    layer.inputZero,
  );
  if (layer.gate) {
    body.f32(layer.gate.inScale, layer.gate.outScale);
    body.i32(layer.gate.inZero, layer.gate.outZero);
  }
  if (layer.residual) body.f32(layer.residual.mainScale, layer.residual.skipScale, layer.residual.outScale);
  writeConvolutionParameters(body, layer);
}

function writeDepthwise(body: ByteWriter, layer: DepthwiseLayer, slot: SlotOf): void {
  const flags = (layer.table ? FLAG.activation : 0) | (layer.pool ? FLAG.pool : 0);
  body.i32(
    KIND.depthwise,
    layer.block,
    flags,
    slot(layer.input),
    slot(layer.output),
    layer.channels,
    ...layer.kernel,
    layer.stride,
    ...layer.pads,
    layer.inputZero,
  );
  writeConvolutionParameters(body, layer);
}

function writeConvolutionParameters(body: ByteWriter, layer: ConvLayer | DepthwiseLayer): void {
  for (const values of [layer.weights, layer.bias, layer.multipliers, layer.shifts]) body.array(values);
  if (layer.table) body.array(layer.table);
}

function writeSqueezeExcitation(body: ByteWriter, layer: SeLayer): void {
  body.i32(KIND.se, layer.block, layer.gateTable ? FLAG.activation : 0, layer.channels, layer.reduced);
  body.f32(layer.inScale, layer.poolScale, layer.fc1OutScale, layer.fc1ActScale, layer.gateScale);
  body.i32(layer.inZero, layer.fc1ActZero, layer.gateZero);
  body.array(layer.fc1Weights);
  body.array(layer.fc1Scale);
  body.array(layer.fc1Bias);
  body.array(layer.fc1Table);
  body.array(layer.fc2Weights);
  body.array(layer.fc2Scale);
  body.array(layer.fc2Bias);
  if (layer.gateTable) {
    body.f32(layer.gateTable.inScale);
    body.array(layer.gateTable.values);
  }
}

function writeHead(body: ByteWriter, layer: HeadLayer, slot: SlotOf): void {
  body.i32(KIND.head, layer.block, layer.table ? FLAG.activation : 0, slot(layer.input), layer.channels, layer.classes);
  body.f32(layer.inScale, layer.poolScale);
  body.array(layer.weights);
  body.array(layer.scale);
  body.array(layer.bias);
  if (layer.table) body.array(layer.table);
}

function headerFor(program: EngineProgram, payload: Uint8Array, slotCount: number): Uint8Array {
  const header = new DataView(new ArrayBuffer(ENGINE_HEADER_SIZE));
  new TextEncoder().encode(ENGINE_MAGIC).forEach((b, i) => header.setUint8(i, b));
  const { input } = program;
  const words = [
    ENGINE_FILE_VERSION,
    ENGINE_HEADER_SIZE,
    ENGINE_HEADER_SIZE + payload.length,
    crc32(payload) >>> 0,
    input.channels,
    input.height,
    input.width,
    program.classes,
    slotCount,
    program.layers.length,
    0,
  ];
  words.forEach((w, i) => header.setUint32(8 + 4 * i, w, true));
  header.setFloat32(52, input.scale, true);
  return new Uint8Array(header.buffer);
}

/** Recomputes the checksum after an edit (tests use it to reach the loader's structural checks). */
export function withChecksum(file: Uint8Array): Uint8Array {
  const out = file.slice();
  new DataView(out.buffer).setUint32(20, crc32(out.subarray(ENGINE_HEADER_SIZE)) >>> 0, true);
  return out;
}
