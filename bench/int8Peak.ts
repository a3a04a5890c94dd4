/**
 * The int8 multiply-accumulate peak of one core for the SIMD path the engine chose, from /proc/cpuinfo's text: two
 * `vpdpbusd` issue per cycle, so 2 × 64 MACs on 512-bit vectors where the core has 512-bit units (Zen 5, Intel's
 * server cores with two FMA ports), but AMD before Zen 5 (family 0x19, Zen 4) executes a 512-bit op as two 256-bit
 * halves: 2 × 32, as AVX-VNNI on 256-bit vectors; `vpmaddwd` (AVX2) 2 × 16, `vmlal` (NEON) 2 × 4, scalar 1.
 * The clock is cpuinfo's MHz (nominal on these VMs), so a turbo clock makes the share look higher than it is.
 */
export interface Int8Peak {
  gops: number;
  mhz: number;
  macsPerCycle: number;
  /** What the MACs per cycle assume, in words, for the result file. */
  basis: string;
}

const field = (cpuinfo: string, name: string) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(cpuinfo)?.[1]?.trim();

export function int8PeakFrom(options: { isa: string; cpuinfo: string }): Int8Peak {
  const { isa, cpuinfo } = options;
  const mhz = Number(field(cpuinfo, 'cpu MHz') ?? 0) || 0;
  const amdFamily = field(cpuinfo, 'vendor_id') === 'AuthenticAMD' ? Number(field(cpuinfo, 'cpu family')) : null;
  const halfWidth512 = isa === 'avx512' && amdFamily !== null && amdFamily < 26;
  const macsPerCycle = halfWidth512
    ? 64
    : (({ avx512: 128, 'avx-vnni': 64, avx2: 32, neon: 8 } as Record<string, number>)[isa] ?? 1);
  const basis = halfWidth512
    ? `AMD family ${amdFamily} runs 512-bit vpdpbusd as two 256-bit halves: ${macsPerCycle} int8 MACs/cycle`
    : `${macsPerCycle} int8 MACs/cycle (${isa})`;
  return { gops: (2 * macsPerCycle * mhz) / 1000, mhz, macsPerCycle, basis: `${basis} at ${mhz} MHz` };
}
