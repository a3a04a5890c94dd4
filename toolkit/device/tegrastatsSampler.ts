/**
 * Runs `tegrastats --interval <ms>` beside a benchmark and keeps every line it prints with the moment it arrived, so
 * that the power of any stretch of the run can be averaged afterwards. The process is always stopped: by `stop()`,
 * and by this process's exit should the caller never get there.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type InputBasis, parseTegrastatsLine, type TegrastatsSample } from './tegrastats.js';

/** How often tegrastats prints: short enough for a few samples in a one-second window. */
export const TEGRASTATS_INTERVAL_MS = 100;

export const TEGRASTATS_NOT_FOUND = 'tegrastats not found: not a Jetson';

export interface TimedSample {
  /** performance.now() when the line arrived. */
  atMs: number;
  sample: TegrastatsSample;
}

export interface TegrastatsSampler {
  readonly samples: readonly TimedSample[];
  /** Stops tegrastats and waits until it is gone. */
  stop(): Promise<void>;
}

/** Mean input power over a stretch of the run, or why there is none. */
export type WindowPower =
  | { measured: true; basis: InputBasis; rails: string[]; meanWatts: number; samples: number }
  | { measured: false; reason: string };

/**
 * Starts tegrastats, or says why it cannot: not on PATH (not a Jetson), or it would not start. `env` is the
 * environment it runs with (the caller's by default).
 */
export async function startTegrastats(options: {
  intervalMs: number;
  env?: NodeJS.ProcessEnv;
}): Promise<TegrastatsSampler | { reason: string }> {
  const child = spawn('tegrastats', ['--interval', String(options.intervalMs)], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const started = await new Promise<true | string>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ENOENT' ? TEGRASTATS_NOT_FOUND : `tegrastats would not start: ${error.message}`),
    );
  });
  if (started !== true) return { reason: started };
  const samples: TimedSample[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    samples.push({ atMs: performance.now(), sample: parseTegrastatsLine(line) });
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    samples,
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopped(child);
    },
  };
}

/** SIGTERM, then SIGKILL when it has not gone within a second. */
async function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
  await gone;
  clearTimeout(timer);
}

/**
 * The mean of the input power readings that arrived between `startMs` and `endMs` (performance.now() times). Each
 * reading is tegrastats' instant value, not its running average, which reaches back to before the window.
 */
export function windowPower(options: { samples: readonly TimedSample[]; startMs: number; endMs: number }): WindowPower {
  const { samples, startMs, endMs } = options;
  const inWindow = samples.filter((s) => s.atMs >= startMs && s.atMs <= endMs).map((s) => s.sample);
  if (inWindow.length === 0) {
    return {
      measured: false,
      reason: `tegrastats printed nothing in the ${((endMs - startMs) / 1000).toFixed(2)} s measured: run longer (--runs)`,
    };
  }
  const withInput = inWindow.filter((s) => s.input !== null);
  const first = withInput[0]?.input;
  if (!first) return { measured: false, reason: inWindow[0]!.noPowerReason! };
  const milliwatts = withInput.reduce((sum, s) => sum + s.input!.instantMilliwatts, 0) / withInput.length;
  return {
    measured: true,
    basis: first.basis,
    rails: first.rails,
    meanWatts: milliwatts / 1000,
    samples: withInput.length,
  };
}
