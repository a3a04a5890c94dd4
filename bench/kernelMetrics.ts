/**
 * The native engine's profile by kernel class, against what limits each: the 1×1 (pointwise) convs and the stem's k×k
 * conv against the int8 MAC peak, the depthwise convs against memory bandwidth. A depthwise k×k does k² MACs per
 * output while reading its input about once and writing its output once, so its bytes moved per MAC, not its MACs,
 * bound it; the bound here is the time a plain copy (`TypedArray.set`, memcpy) of the same tensors takes on this
 * machine, measured in the same run (bench/nativeBench.ts).
 */
import type { EngineProgram } from '../toolkit/runtime/int8/lower.js';
import type { Int8LayerStats } from '../toolkit/runtime/int8/native.js';

export interface KernelClassMetrics {
  layers: number;
  /** per image */
  ms: number;
  macs: number;
  gops: number;
  /** gops / the MAC peak; null where the peak is unknown */
  shareOfPeak: number | null;
}

export interface DepthwiseMetrics extends KernelClassMetrics {
  /** input read once + output written once, per image */
  bytes: number;
  bytesPerMac: number;
  /** bytes / ms: what the kernels achieved */
  achievedGBps: number;
  /** the same bytes at the measured copy bandwidth of each layer's tensors: the bound's time */
  boundMs: number;
  /** the bound's GOPS: MACs at the copy's speed */
  boundGops: number;
  /** boundMs / ms: 1 would be copy speed */
  shareOfBound: number;
}

export interface KernelMetrics {
  pointwise: KernelClassMetrics;
  stem: KernelClassMetrics;
  depthwise: DepthwiseMetrics;
}

/** Bytes a depthwise layer reads (its input, once) and writes (its output, once). */
export function depthwiseBytes(options: { macs: number; kernel: [number, number]; stride: number }): {
  read: number;
  written: number;
} {
  const written = options.macs / (options.kernel[0] * options.kernel[1]);
  return { read: written * options.stride * options.stride, written };
}

function classMetrics(options: { stats: Int8LayerStats[]; runs: number; peakGops: number }): KernelClassMetrics {
  const ms = options.stats.reduce((sum, l) => sum + l.totalMs, 0) / options.runs;
  const macs = options.stats.reduce((sum, l) => sum + l.macs, 0);
  const gops = (2 * macs) / (ms * 1e6);
  return {
    layers: options.stats.length,
    ms,
    macs,
    gops,
    shareOfPeak: options.peakGops ? gops / options.peakGops : null,
  };
}

/**
 * `stats`: the engine's per-layer profile summed over `runs` images; `program`: the layers it was built from (the same
 * order); `copyGBps(bytes)`: the copy bandwidth measured for a tensor of that many bytes.
 */
export function kernelMetricsFrom(options: {
  stats: Int8LayerStats[];
  program: EngineProgram;
  runs: number;
  peakGops: number;
  copyGBps: (bytes: number) => number;
}): KernelMetrics {
  const { stats, program, runs, peakGops } = options;
  if (stats.length !== program.layers.length)
    throw new Error(`the engine profiles ${stats.length} layers, its program has ${program.layers.length}`);
  const pointwise: Int8LayerStats[] = [];
  const stem: Int8LayerStats[] = [];
  const depthwise: Int8LayerStats[] = [];
  let bytes = 0;
  let boundMs = 0;
  stats.forEach((l, index) => {
    const layer = program.layers[index]!;
    if (layer.kind === 'conv') (layer.kernel[0] === 1 && layer.kernel[1] === 1 ? pointwise : stem).push(l);
    if (layer.kind !== 'depthwise') return;
    depthwise.push(l);
    const { read, written } = depthwiseBytes({ macs: l.macs, kernel: layer.kernel, stride: layer.stride });
    bytes += read + written;
    boundMs += (read + written) / (options.copyGBps(read) * 1e6);
  });
  const dw = classMetrics({ stats: depthwise, runs, peakGops });
  return {
    pointwise: classMetrics({ stats: pointwise, runs, peakGops }),
    stem: classMetrics({ stats: stem, runs, peakGops }),
    depthwise: {
      ...dw,
      bytes,
      bytesPerMac: bytes / dw.macs,
      achievedGBps: bytes / (dw.ms * 1e6),
      boundMs,
      boundGops: (2 * dw.macs) / (boundMs * 1e6),
      shareOfBound: boundMs / dw.ms,
    },
  };
}

/** Copy bandwidth (bytes read + written per second, in GB/s) for a tensor of `bytes`, warm in cache as the engine's are. */
export function copyGBpsFor(bytes: number): number {
  const source = new Uint8Array(bytes).map((_, i) => i);
  const target = new Uint8Array(bytes);
  const times: number[] = [];
  for (let round = 0; round < 15; round++) {
    const start = performance.now();
    for (let i = 0; i < 8; i++) target.set(source);
    times.push((performance.now() - start) / 8);
  }
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  return (2 * bytes) / (median * 1e6);
}

/** The bench table's lines: each kernel class against its limit, with the goal for the 1×1 convs. */
export function kernelMetricsText(metrics: KernelMetrics): string {
  const share = (m: KernelClassMetrics) =>
    m.shareOfPeak === null ? '' : ` = ${(100 * m.shareOfPeak).toFixed(0)} % of peak`;
  const line = (name: string, m: KernelClassMetrics) =>
    `${name} (${m.layers} layers): ${m.ms.toFixed(2)} ms, ${m.gops.toFixed(0)} GOPS${share(m)}`;
  const dw = metrics.depthwise;
  return (
    `${line('1×1 convs', metrics.pointwise)} (goal ≥ 50 %); ${line('stem conv', metrics.stem)}\n` +
    `${line('depthwise', dw)}; ${dw.bytesPerMac.toFixed(3)} bytes moved per MAC, ${dw.achievedGBps.toFixed(1)} GB/s ` +
    `achieved; at this machine's copy bandwidth for the same tensors the bound is ${dw.boundMs.toFixed(2)} ms ` +
    `(${dw.boundGops.toFixed(0)} GOPS): the kernels run at ${(100 * dw.shareOfBound).toFixed(0)} % of it\n`
  );
}
