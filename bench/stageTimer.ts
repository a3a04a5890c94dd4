/**
 * Stage times of a build from its progress callbacks alone. A reported stage's first report comes after its first
 * unit of work, so that unit is estimated from the stage's own rate; the time between one reported stage and the
 * next is the unreported work there, named by `gaps` (`calibrating→range search`: selection). The process's peak RSS
 * is read at every report, so each stage also says how high the peak stood when it ended: where memory grows.
 */
export interface StageTimer {
  onProgress: (stage: string, done: number, total: number) => void;
  /** Marks the end of an unreported stage (the bundle built, the folder written). */
  mark: (stage: string) => void;
  /** Seconds per stage, in order. */
  seconds: () => Record<string, number>;
  /** The process's peak RSS (MiB) as each reported or marked stage ended, in order. */
  peakRssMiB: () => Record<string, number>;
}

interface Span {
  stage: string;
  first: number;
  last: number;
  doneFirst: number;
  doneLast: number;
  peakRssMiB: number;
}

export function stageTimer(options: {
  gaps: Readonly<Record<string, string>>;
  now?: () => number;
  peakRssMiB?: () => number;
}): StageTimer {
  const now = options.now ?? (() => performance.now());
  const peakRss = options.peakRssMiB ?? (() => process.resourceUsage().maxRSS / 1024);
  const started = now();
  const spans: Span[] = [];
  const record = (stage: string, done: number) => {
    const at = now();
    const peakRssMiB = peakRss();
    const last = spans.at(-1);
    if (last?.stage === stage) Object.assign(last, { last: at, doneLast: done, peakRssMiB });
    else spans.push({ stage, first: at, last: at, doneFirst: done, doneLast: done, peakRssMiB });
  };
  return {
    onProgress: (stage, done) => record(stage, done),
    mark: (stage) => record(stage, 0),
    seconds: () => {
      const out: Record<string, number> = {};
      const add = (stage: string, ms: number) => (out[stage] = (out[stage] ?? 0) + ms / 1000);
      let previous = { stage: 'start', last: started };
      for (const span of spans) {
        const units = span.doneLast - span.doneFirst;
        const firstUnit = units > 0 ? (span.last - span.first) / units : 0;
        const gap = options.gaps[`${previous.stage}→${span.stage}`];
        if (gap) add(gap, Math.max(0, span.first - firstUnit - previous.last));
        add(span.stage, span.last - (gap ? Math.max(previous.last, span.first - firstUnit) : previous.last));
        previous = span;
      }
      return out;
    },
    peakRssMiB: () => Object.fromEntries(spans.map((span) => [span.stage, span.peakRssMiB])),
  };
}
