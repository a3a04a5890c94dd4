/**
 * How much the default quantization depends on which calibration images it gets: the default `quantize` on the
 * shared CIFAR-10 B0 fixture with several calibration subsets (`--calib-count N --seed S`) × both placement profiles,
 * each evaluated on the fixture's labelled test images. The worst case is the number that matters (issue 19): a
 * default that is good on one lucky subset is not good. `node dist/bench/run.js quant-seeds` writes
 * bench/results/quant-seeds.json and .md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../toolkit/cli/main.js';
import { formatTable } from '../toolkit/cli/table.js';

export interface QuantSeedsOptions {
  /** The fixture folder: model.onnx, calib/, test/. */
  fixture: string;
  seeds: readonly number[];
  profiles: readonly ('tensorrt' | 'onnxruntime')[];
  calibCount: number;
  /** Extra quantize arguments (the small test version limits --select-count and --search-count). */
  quantizeArgs?: readonly string[];
  /** Test images to evaluate on (default: all of them). */
  testCount?: number;
}

export interface QuantSeedRun {
  seed: number;
  profile: string;
  calibrator: string;
  fp32Top1: number;
  int8Top1: number;
  /** fp32 − int8 top-1, points. */
  drop: number;
  agreement: number;
  cosine: number;
  seconds: number;
}

export type QuantSeedWorst = Pick<QuantSeedRun, 'fp32Top1' | 'int8Top1' | 'drop' | 'agreement' | 'cosine'>;

async function cliJson(argv: string[]): Promise<Record<string, unknown>> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t) };
  const code = await main(argv, io);
  if (code !== 0) throw new Error(`effnet-edge ${argv.join(' ')} exited ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function seedRun(options: QuantSeedsOptions, seed: number, profile: string, dir: string): Promise<QuantSeedRun> {
  const { fixture } = options;
  const out = join(dir, `q-${profile}-${seed}.onnx`);
  const started = performance.now();
  const quantized = (await cliJson([
    'quantize',
    ...['--model', join(fixture, 'model.onnx'), '--calib', join(fixture, 'calib'), '--out', out],
    ...['--calib-count', String(options.calibCount), '--seed', String(seed), '--profile', profile, '--json'],
    ...(options.quantizeArgs ?? []),
  ])) as { calibrator: { method: string; percentile?: number } };
  const seconds = (performance.now() - started) / 1000;
  const evaluated = (await cliJson([
    'eval',
    ...['--fp32', join(fixture, 'model.onnx'), '--int8', out, '--data', join(fixture, 'test'), '--json'],
    // eval's --count needs an explicit --seed (its option declares no default).
    ...(options.testCount ? ['--count', String(options.testCount), '--seed', '0'] : []),
  ])) as { fp32: { top1: number }; int8: { top1: number }; agreement: number; cosine: number };
  const { calibrator } = quantized;
  return {
    seed,
    profile,
    calibrator: calibrator.method === 'percentile' ? `percentile ${calibrator.percentile}` : calibrator.method,
    fp32Top1: evaluated.fp32.top1,
    int8Top1: evaluated.int8.top1,
    drop: Number((evaluated.fp32.top1 - evaluated.int8.top1).toFixed(2)),
    agreement: evaluated.agreement,
    cosine: evaluated.cosine,
    seconds: Number(seconds.toFixed(1)),
  };
}

/** Every seed × profile, one after the other (in this process: the CLI's main, not a child). */
export async function quantSeedRuns(
  options: QuantSeedsOptions,
): Promise<{ runs: QuantSeedRun[]; worst: QuantSeedWorst }> {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-quant-seeds-'));
  const runs: QuantSeedRun[] = [];
  try {
    for (const profile of options.profiles)
      for (const seed of options.seeds) runs.push(await seedRun(options, seed, profile, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, worst: worstOf(runs) };
}

/** The worst of each column: lowest top-1 and agreement and cosine, largest drop. */
export function worstOf(runs: readonly QuantSeedRun[]): QuantSeedWorst {
  const lowest = (pick: (r: QuantSeedRun) => number) => Math.min(...runs.map(pick));
  return {
    fp32Top1: lowest((r) => r.fp32Top1),
    int8Top1: lowest((r) => r.int8Top1),
    drop: Math.max(...runs.map((r) => r.drop)),
    agreement: lowest((r) => r.agreement),
    cosine: lowest((r) => r.cosine),
  };
}

export function quantSeedsMarkdown(options: { command: string; runs: QuantSeedRun[]; worst: QuantSeedWorst }): string {
  const { runs, worst } = options;
  const table = formatTable(
    [
      { header: 'Profile' },
      { header: 'Seed', align: 'right' },
      { header: 'Calibrator' },
      { header: 'fp32 top-1 %', align: 'right' },
      { header: 'int8 top-1 %', align: 'right' },
      { header: 'Drop', align: 'right' },
      { header: 'Agreement %', align: 'right' },
      { header: 'Cosine', align: 'right' },
    ],
    [
      ...runs.map((r) => [
        r.profile,
        r.seed,
        r.calibrator,
        r.fp32Top1.toFixed(2),
        r.int8Top1.toFixed(2),
        r.drop.toFixed(2),
        r.agreement.toFixed(2),
        r.cosine.toFixed(4),
      ]),
      [
        'worst',
        '',
        '',
        worst.fp32Top1.toFixed(2),
        worst.int8Top1.toFixed(2),
        worst.drop.toFixed(2),
        worst.agreement.toFixed(2),
        worst.cosine.toFixed(4),
      ],
    ],
  );
  return `Made by \`${options.command}\`:\n\n\`\`\`\n${table}\`\`\`\n`;
}

/** The full benchmark: 5 seeds × both profiles, 600 calibration images each, all 2000 test images. */
export async function runQuantSeedsBench(options: { shared: string; resultsDir: string; machine: object }) {
  const seeds = [1, 2, 3, 4, 5];
  const calibCount = 600;
  const { runs, worst } = await quantSeedRuns({
    fixture: join(options.shared, 'fixtures', 'cifar10_b0'),
    seeds,
    profiles: ['tensorrt', 'onnxruntime'],
    calibCount,
  });
  const command = 'node dist/bench/run.js quant-seeds';
  const result = {
    benchmark: 'quant-seeds',
    about: `default quantize, --calib-count ${calibCount} --seed 1..5 × both profiles, evaluated on the fixture's 2000 test images`,
    goal: { worstAgreement: 96, worstDrop: 0.5, worstCosine: 0.995 },
    machine: options.machine,
    runs,
    worst,
  };
  writeFileSync(join(options.resultsDir, 'quant-seeds.json'), `${JSON.stringify(result, null, 2)}\n`);
  const markdown = quantSeedsMarkdown({ command, runs, worst });
  writeFileSync(join(options.resultsDir, 'quant-seeds.md'), markdown);
  process.stdout.write(markdown);
}
