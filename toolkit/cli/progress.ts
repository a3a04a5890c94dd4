/**
 * Progress on stderr, drawn only on a terminal (scripts, pipes and CI get nothing: quiet on success).
 *
 * Two shapes: `progressBar`, one bar that clears itself when done (eval, native build, uploads), and
 * `stageProgress`, a numbered line per stage of a long command (`[3/7] choosing the calibrator…`) with the bar of
 * the stage's work on the live line and the stage's duration left behind when it ends. Every redraw starts with
 * `\r` and ESC[K so a shorter line leaves nothing of a longer one.
 */
import { countText, etaText, rateText, type ProgressUnit } from './progressUnits.js';

/** What progress is drawn on: process.stderr, or any object with the same members (a test's recorder). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** The terminal's width: a live line longer than this would wrap, and `\r` could no longer redraw it. */
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Default process.stderr; nothing is drawn unless it is a TTY. */
  stream?: ProgressStream;
  /** Milliseconds, for rates and ETAs; default performance.now. */
  now?: () => number;
  /** False for --json and --quiet: nothing at all, even on a terminal. */
  enabled?: boolean;
}

/** A rate from fewer items or less time is noise (`1/114 21402 tensor/s ETA 0s`): show only the count before. */
export const RATE_AFTER = { ms: 1000, items: 3 } as const;
/** Redraws closer together than this are skipped (the last item of a stage is always drawn). */
export const REDRAW_MS = 100;

const CLEAR_LINE = '\r\x1b[K';
const BAR_WIDTH = 30;

export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

function drawnOn(options: ProgressOptions): { stream: ProgressStream; now: () => number } | null {
  const stream = options.stream ?? process.stderr;
  if (options.enabled === false || !stream.isTTY) return null;
  return { stream, now: options.now ?? (() => performance.now()) };
}

/** Items done since the first report and the time since it: a rate that leaves out setup and connecting. */
export interface RateSample {
  items: number;
  ms: number;
}

/** One bar's text: `label [###...] 30/115 tensor 12 tensor/s ETA 7s`, rate and ETA only after RATE_AFTER. */
export function barText(options: {
  label: string;
  done: number;
  total: number;
  unit: ProgressUnit;
  sample: RateSample;
}): string {
  const { done, total, unit, sample } = options;
  const filled = Math.min(BAR_WIDTH, Math.round((BAR_WIDTH * done) / Math.max(total, 1)));
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
  const head = `${options.label} ${bar} ${countText({ done, total, unit })}`;
  if (sample.ms < RATE_AFTER.ms || sample.items < RATE_AFTER.items || done >= total) return head;
  const rate = sample.items / (sample.ms / 1000);
  return `${head} ${rateText({ rate, unit })} ETA ${etaText((total - done) / rate)}`;
}

/** Remembers the first report of a run of work, and measures later ones from it. */
function rateSampler(now: () => number): (done: number) => RateSample {
  let first: { done: number; at: number } | null = null;
  return (done) => {
    const at = now();
    // A count that went back is a new pass over the work (calibration reads the images again): start over.
    if (!first || done < first.done) first = { done, at };
    return { items: done - first.done, ms: at - first.at };
  };
}

/** The live line, cut to the terminal's width so that it never wraps. */
function liveLine(stream: ProgressStream, text: string): string {
  const width = stream.columns;
  return CLEAR_LINE + (width && text.length >= width ? text.slice(0, width - 1) : text);
}

/** A bar that redraws at most every REDRAW_MS and clears itself when its work is done. */
export function progressBar(options: ProgressOptions & { label: string; unit: ProgressUnit }): Progress {
  const out = drawnOn(options);
  if (!out) return { update: () => undefined, done: () => undefined };
  const sampled = rateSampler(out.now);
  let drawn = -Infinity;
  return {
    update(done, total) {
      const sample = sampled(done);
      const now = out.now();
      // A finished bar clears itself, so passes that never call done() leave no line behind.
      if (done >= total) return void out.stream.write(CLEAR_LINE);
      if (now - drawn < REDRAW_MS) return;
      drawn = now;
      const text = barText({ label: options.label, done, total, unit: options.unit, sample });
      out.stream.write(liveLine(out.stream, text));
    },
    done() {
      out.stream.write(CLEAR_LINE);
    },
  };
}

/** One row of a command's stage table (toolkit/cli/stages.ts). */
export interface StageRow<S extends string = string> {
  stage: S;
  /** What the line says while the stage runs: `choosing the calibrator`. */
  label: string;
}

export interface StageProgress<S extends string = string> {
  /** Ends the running stage (its line keeps its duration) and starts `stage`. */
  stage(stage: S): void;
  /** The running stage's work: a bar on its line. */
  update(done: number, total: number, unit: ProgressUnit): void;
  /** Runs `write` (a warning to stderr) with the live line cleared, then draws the live line again under it. */
  aside(write: () => void): void;
  /** Success: the last stage's line keeps its duration. */
  done(): void;
  /** Failure: the live line is cleared, so the error stands alone. */
  stop(): void;
}

/**
 * Numbered stage lines: `[k/N] label…` while a stage runs (with its bar once it reports work), then
 * `[k/N] label: 2.3s` when the next one starts. N is the table's length: the caller passes only the rows that
 * its options run. A stage missing from the table is still shown, numbered past N rather than dropped.
 */
export function stageProgress<S extends string>(options: ProgressOptions & { stages: readonly StageRow<S>[] }) {
  const out = drawnOn(options);
  const none = () => undefined;
  if (!out) return { stage: none, update: none, aside: (write) => write(), done: none, stop: none } as StageProgress<S>;
  const rows = [...options.stages];
  let current: { prefix: string; started: number; line: string; sampled: (done: number) => RateSample } | null = null;
  let drawn = -Infinity;
  const draw = (line: string) => {
    current!.line = line;
    out.stream.write(liveLine(out.stream, line));
  };
  const finish = () => {
    if (!current) return;
    out.stream.write(`${CLEAR_LINE}${current.prefix}: ${((out.now() - current.started) / 1000).toFixed(1)}s\n`);
    current = null;
  };
  return {
    stage(stage) {
      finish();
      let index = rows.findIndex((r) => r.stage === stage);
      if (index < 0) index = rows.push({ stage, label: stage }) - 1;
      const prefix = `[${index + 1}/${options.stages.length}] ${rows[index]!.label}`;
      current = { prefix, started: out.now(), line: '', sampled: rateSampler(out.now) };
      drawn = -Infinity;
      draw(`${prefix}…`);
    },
    update(done, total, unit) {
      if (!current) return;
      const sample = current.sampled(done);
      const now = out.now();
      if (now - drawn < REDRAW_MS && done < total) return;
      drawn = now;
      draw(barText({ label: `${current.prefix}…`, done, total, unit, sample }));
    },
    aside(write) {
      if (current) out.stream.write(CLEAR_LINE);
      write();
      if (current) draw(current.line);
    },
    done: finish,
    stop() {
      if (current) out.stream.write(CLEAR_LINE);
      current = null;
    },
  } satisfies StageProgress<S>;
}
