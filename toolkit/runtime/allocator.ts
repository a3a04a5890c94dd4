/**
 * glibc's malloc gives large freed blocks back to the kernel: every block over its mmap threshold, and the heap's free
 * top past its trim threshold. A session run allocates its outputs (and with the arena off, every activation) afresh,
 * so each run of a large model faulted all its pages in again: on the 2-core build machine a fresh 512 MiB takes 1.3 s
 * to touch, and B7@600 calibration ran at 12.3 s an image, 8.7 s with freed memory kept for reuse (these settings).
 * Peak RSS did not grow (3.85 → 3.81 GB): a block is kept only to be reused. Other C libraries (musl) keep their own
 * policy; nothing is changed there.
 */
import koffi from 'koffi';

// <malloc.h>'s mallopt parameters.
const M_TRIM_THRESHOLD = -1;
const M_TOP_PAD = -2;
const M_MMAP_THRESHOLD = -3;

/**
 * Blocks up to this come from the heap and are reused: B7@600's largest activations are ~50 MB (calibration 9.4 s an
 * image at 32 MiB, 8.7 s at 256 MiB). Older glibc refuses more than 32 MiB on 64-bit; then 32 MiB.
 */
const MMAP_THRESHOLDS = [256 * 2 ** 20, 32 * 2 ** 20];
/** Free heap top kept before it is given back: the largest mallopt takes (an int). */
const TRIM_THRESHOLD = 2 ** 31 - 1;
/** Extra grown per heap extension, so a run's activations take few extensions (B7 calibration: 10.8 s an image at 64 MiB, 9.4 s at 256). */
const TOP_PAD = 256 * 2 ** 20;

let applied: boolean | undefined;

/** Whether this process runs on glibc (Node's report names its runtime version only there). */
export function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/**
 * Keep freed memory in the process for the next run (once per process; ONNX Runtime sessions call it). Returns whether
 * the settings took effect: false on other C libraries, or where libc does not load.
 */
export function keepFreedMemory(): boolean {
  if (applied !== undefined) return applied;
  applied = false;
  if (process.platform !== 'linux' || !isGlibc()) return applied;
  try {
    const mallopt = koffi.load('libc.so.6').func('int mallopt(int param, int value)') as (
      p: number,
      v: number,
    ) => number;
    applied =
      MMAP_THRESHOLDS.some((threshold) => mallopt(M_MMAP_THRESHOLD, threshold) === 1) &&
      mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) === 1 &&
      mallopt(M_TOP_PAD, TOP_PAD) === 1;
  } catch {
    // A libc koffi cannot open keeps its defaults: slower large runs, nothing wrong.
  }
  return applied;
}
