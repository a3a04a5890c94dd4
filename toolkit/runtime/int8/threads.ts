/**
 * The int8 engine's default thread count: the cores this machine leaves free, measured when a runner is made. A
 * layer split over every core waits for its slowest thread, so on a machine where other processes keep cores busy
 * the engine takes only the idle ones. Where at most one is free, a single image runs on one thread, but whole
 * rounds of a batch (one image per thread, no waiting between layers) still run on every core: each thread is one
 * more share of the CPU against the competitors (2 cores, 2 busy processes, B0@224 batch 8: 22.6 ms p50 on both cores
 * against 40.8 ms on one; batch 1: 4.2 ms split over both, 2.9 ms on one; bench/results/contention.json, 6 December).
 * Linux's /proc/stat tells the load; elsewhere every core.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileFormatError } from '../../errors.js';

/** The all-CPU line of /proc/stat, in clock ticks: busy and total time, and how many CPUs it sums. */
export interface CpuTimes {
  busy: number;
  total: number;
  cpus: number;
}

/** /proc/stat's text → its `cpu` line's busy and total ticks (idle and iowait are not busy) and its `cpuN` count. */
export function cpuTimesFrom(text: string): CpuTimes {
  const line = /^cpu\s+([\d\s]+)$/m.exec(text);
  if (!line) {
    const start = JSON.stringify(text.slice(0, 40));
    throw new FileFormatError(
      '/proc/stat',
      `expected a 'cpu' line of tick counts, found none in text starting ${start}`,
    );
  }
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const ticks = line[1]!.trim().split(/\s+/).slice(0, 8).map(Number);
  const total = ticks.reduce((sum, n) => sum + n, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total, cpus: text.match(/^cpu\d+\s/gm)?.length ?? 1 };
}

/** How many of `cores` were busy between two snapshots, in cores (0 when no time passed). */
export function busyCoresBetween(options: { before: CpuTimes; after: CpuTimes }): number {
  const { before, after } = options;
  const total = after.total - before.total;
  return total > 0 ? ((after.busy - before.busy) / total) * after.cpus : 0;
}

/** Threads for `cores` usable cores when `busyCores` of the machine's are busy: the free ones, rounded, at least 1. */
export function threadsForLoad(options: { cores: number; busyCores: number }): number {
  return Math.min(options.cores, Math.max(1, Math.round(options.cores - options.busyCores)));
}

/** The engine's threads and whether one image is split over them, for `cores` usable cores and `busyCores` busy. */
export function engineThreadsForLoad(options: { cores: number; busyCores: number }): {
  threads: number;
  splitImage: boolean;
} {
  const free = threadsForLoad(options);
  return free === 1 && options.cores > 1
    ? { threads: options.cores, splitImage: false }
    : { threads: free, splitImage: true };
}

export interface ThreadChoice {
  threads: number;
  /** One image (batch 1, the rest of a batch) layer by layer on all threads; false: on the calling thread alone. */
  splitImage: boolean;
  cores: number;
  /** Cores other processes kept busy while sampling; null where /proc/stat cannot be read (every core is used). */
  busyCores: number | null;
}

/** Samples /proc/stat over `sampleMs` (default 30) and chooses the engine's threads from the load it shows. */
export async function int8ThreadsForThisMachine(options: { sampleMs?: number } = {}): Promise<ThreadChoice> {
  const cores = availableParallelism();
  try {
    const before = cpuTimesFrom(await readFile('/proc/stat', 'utf8'));
    await sleep(options.sampleMs ?? 30);
    const after = cpuTimesFrom(await readFile('/proc/stat', 'utf8'));
    const busyCores = busyCoresBetween({ before, after });
    return { ...engineThreadsForLoad({ cores, busyCores }), cores, busyCores };
  } catch {
    return { threads: cores, splitImage: true, cores, busyCores: null };
  }
}
