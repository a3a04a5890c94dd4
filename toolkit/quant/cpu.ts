/**
 * Whether this x86 CPU has VNNI (avx512_vnni or avx_vnni). Without it ONNX Runtime's int8 kernels saturate
 * full-range int8 weights (FACTS.md), so CPU targets use 7-bit weights there.
 */
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';

export function cpuHasVnni(cpuinfo?: string): boolean {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return false;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
  return flags.includes('avx512_vnni') || flags.includes('avx_vnni');
}

export type WeightRange = 'full' | 'reduced';

/** `auto`: reduced (7-bit) for ONNX Runtime on x86-64 without VNNI, full everywhere else. */
export function weightRangeFor(options: {
  requested: WeightRange | 'auto';
  runtime: 'onnxruntime' | 'tensorrt';
  cpuArch?: string;
  vnni?: boolean;
}): WeightRange {
  if (options.requested !== 'auto') return options.requested;
  const isX86 = (options.cpuArch ?? arch()) === 'x64';
  return options.runtime === 'onnxruntime' && isX86 && !(options.vnni ?? cpuHasVnni()) ? 'reduced' : 'full';
}

export const WEIGHT_QMAX: Record<WeightRange, number> = { full: 127, reduced: 63 };
