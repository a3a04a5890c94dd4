/**
 * The one-shot device check: on a machine with TensorRT and an NVIDIA GPU, everything the Jetson path claims, in
 * one run and one JSON file. It builds the shim, builds the embedded demo bundle, then for each engine mode
 * (explicit Q/DQ int8, implicit int8 from the calibration cache, fp16) builds the engine, runs the golden set on it,
 * checks it against what the build recorded, and reads the fusion report and layer precisions from the inspector.
 * Nothing needs a network. Where a step cannot run, the report says which and why, and the later steps are skipped.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { manifestFromBundle, type BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { atLeast, type CheckResult } from '../eval/checkReports.js';
import { fusionReportFrom, type FusionReport } from '../eval/fusion.js';
import { meanCosine, top1Agreement } from '../eval/metrics.js';
import { goldenSetFrom, regressionChecks, type GoldenSet } from './regression.js';
import { modelFromFile } from '../onnx/read.js';
import { packagePath } from '../packagePaths.js';
import { TrtRunner, trtDevice, trtVersions } from '../runtime/trt.js';
import { engineForBundle } from './trtEngine.js';
import { TOOLKIT_VERSION } from '../version.js';

export const DEVICE_CHECK_SCHEMA = 'effnet-edge/device-check@1';

export interface EngineMode {
  name: 'int8-explicit' | 'int8-implicit' | 'fp16';
  precision: 'int8' | 'fp16';
  quantization?: 'explicit' | 'implicit';
}

export const ENGINE_MODES: readonly EngineMode[] = [
  { name: 'int8-explicit', precision: 'int8', quantization: 'explicit' },
  { name: 'int8-implicit', precision: 'int8', quantization: 'implicit' },
  { name: 'fp16', precision: 'fp16' },
];

export interface StepResult {
  step: string;
  ok: boolean;
  seconds: number;
  /** What went wrong, or what was done. */
  detail: string;
}

export interface ModeResult {
  mode: EngineMode['name'];
  ok: boolean;
  plan: string | null;
  buildSeconds: number | null;
  checks: CheckResult[];
  fusion: Pick<
    FusionReport,
    'engineLayers' | 'precision' | 'reformats' | 'unfusedQdq' | 'devices' | 'blocks' | 'unmappedLayers'
  > | null;
  error: string | null;
}

export interface DeviceCheckReport {
  schema: typeof DEVICE_CHECK_SCHEMA;
  ok: boolean;
  /** The first step that failed, in words; null when everything ran. */
  reason: string | null;
  toolkitVersion: string;
  host: { platform: string; arch: string; gpu: string | null; sm: string | null; tensorrt: string | null };
  steps: StepResult[];
  modes: ModeResult[];
}

export interface DeviceCheckOptions {
  /** Scratch folder: the demo bundle, its engines. */
  workDir: string;
  target: string;
  tensorrtInclude?: string;
  tensorrtLib?: string;
  /** Where the shim is built (default native/build in the package, where effnet-edge looks for it). */
  buildDir?: string;
  onProgress: (line: string) => void;
}

/** An fp16 engine has no int8 reference: it must agree with fp32 on all but two golden images, at cosine 0.999. */
export function fp16Checks(options: {
  golden: GoldenSet;
  device: { data: Float32Array; classes: number };
}): CheckResult[] {
  const { golden, device } = options;
  const images = golden.index.count;
  const minAgreement = Math.round((100 - (2 * 100) / images) * 100) / 100;
  const agreement = top1Agreement(device, golden.fp32);
  const cosine = meanCosine(device, golden.fp32);
  return [
    {
      name: 'fp16: top-1 agreement with build-time fp32',
      ok: agreement >= minAgreement,
      measured: Math.round(agreement * 100) / 100,
      ...atLeast('agreement', minAgreement, '%'),
      details: { images },
    },
    {
      name: 'fp16: mean logit cosine with build-time fp32',
      ok: cosine >= 0.999,
      measured: Math.round(cosine * 1e4) / 1e4,
      ...atLeast('cosine', 0.999, null),
      details: { images },
    },
  ];
}

async function timed(step: string, steps: StepResult[], body: () => Promise<string>): Promise<boolean> {
  const started = performance.now();
  try {
    const detail = await body();
    steps.push({ step, ok: true, seconds: (performance.now() - started) / 1000, detail });
    return true;
  } catch (error) {
    steps.push({
      step,
      ok: false,
      seconds: (performance.now() - started) / 1000,
      detail: (error as Error).message.split('\n')[0]!,
    });
    return false;
  }
}

/** The CLI of this package as a child process (its own exit code and one-line errors). */
async function cli(args: string[]): Promise<string> {
  const result = await execa(process.execPath, [packagePath('bin', 'effnet-edge.js'), ...args], {
    all: true,
    reject: false,
  });
  if (result.exitCode !== 0)
    throw new UserError(
      (result.stderr || result.all || `exit ${result.exitCode}`)
        .trim()
        .split('\n')
        .at(-1)!
        .replace(/^effnet-edge \w+: /, ''),
    );
  return result.stdout.trim();
}

async function modeResult(options: {
  bundle: string;
  manifest: BundleManifest;
  golden: GoldenSet;
  mode: EngineMode;
  onNotice: (m: string) => void;
}): Promise<ModeResult> {
  const { bundle, manifest, golden, mode } = options;
  let runner: TrtRunner | null = null;
  const result: ModeResult = {
    mode: mode.name,
    ok: false,
    plan: null,
    buildSeconds: null,
    checks: [],
    fusion: null,
    error: null,
  };
  try {
    const started = performance.now();
    const engine = await engineForBundle({
      bundle,
      manifest,
      model: 'int8',
      dlaCore: -1,
      precision: mode.precision,
      ...(mode.quantization ? { quantization: mode.quantization } : {}),
      rebuild: true,
      onNotice: options.onNotice,
    });
    result.plan = engine.plan;
    result.buildSeconds = (performance.now() - started) / 1000;
    runner = TrtRunner.create({
      enginePath: engine.plan,
      dlaCore: -1,
      maxBatch: engine.maxBatch,
      staticBatch: engine.staticBatch,
    });
    const output = await runner.run(golden.inputs, golden.index.inputShape);
    const device = { data: output[runner.outputNames[0]!]!, classes: golden.index.classes };
    result.checks =
      mode.precision === 'int8'
        ? regressionChecks({ manifest, golden, device, files: [], runtime: 'tensorrt' }).filter(
            (c) => c.name !== "bundle files match the manifest's sha256",
          )
        : fp16Checks({ golden, device });
    const onnx = join(
      bundle,
      mode.precision === 'int8' && mode.quantization !== 'implicit' ? manifest.engine.onnx : 'model.fp32.onnx',
    );
    const fusion = fusionReportFrom({ model: await modelFromFile({ path: onnx }), inspectorJson: runner.inspect() });
    result.fusion = {
      engineLayers: fusion.engineLayers,
      precision: fusion.precision,
      reformats: fusion.reformats,
      unfusedQdq: fusion.unfusedQdq,
      devices: fusion.devices,
      blocks: fusion.blocks,
      unmappedLayers: fusion.unmappedLayers,
    };
    result.ok = result.checks.every((c) => c.ok);
  } catch (error) {
    result.error = (error as Error).message.split('\n')[0]!;
  } finally {
    await runner?.close();
  }
  return result;
}

export async function deviceCheckReport(options: DeviceCheckOptions): Promise<DeviceCheckReport> {
  const steps: StepResult[] = [];
  const modes: ModeResult[] = [];
  const host: DeviceCheckReport['host'] = { platform: platform(), arch: arch(), gpu: null, sm: null, tensorrt: null };
  const report = (): DeviceCheckReport => reportFrom({ host, steps, modes });
  const say = options.onProgress;
  await mkdir(options.workDir, { recursive: true });

  say('[1/4] building the TensorRT shim');
  if (!(await timed('native build --tensorrt', steps, () => shimBuilt(options)))) return report();
  // The shim is loaded from where it was just built.
  if (options.buildDir) process.env.EFFNET_EDGE_TRT_LIB = join(options.buildDir, 'libeffnet_trt.so');

  say('[2/4] loading TensorRT and the GPU');
  if (!(await timed('load TensorRT', steps, async () => tensorrtLoaded(host)))) return report();

  say('[3/4] building the demo bundle');
  const bundle = join(options.workDir, 'demo-bundle');
  const built = await timed('build the demo bundle', steps, () => demoBundleBuilt({ bundle, target: options.target }));
  if (!built) return report();
  const manifest = await manifestFromBundle(bundle);
  const golden = await goldenSetFrom({ bundle, manifest });

  for (const [index, mode] of ENGINE_MODES.entries()) {
    say(`[4/4] engine ${index + 1}/${ENGINE_MODES.length}: ${mode.name} (build, golden set, fusion report)`);
    modes.push(await modeResult({ bundle, manifest, golden, mode, onNotice: (m) => say(`  ${m}`) }));
  }
  return report();
}

/** The report so far; its reason is the first failed step, else the first failed engine mode. */
function reportFrom(options: {
  host: DeviceCheckReport['host'];
  steps: StepResult[];
  modes: ModeResult[];
}): DeviceCheckReport {
  const { host, steps, modes } = options;
  const failed = steps.find((s) => !s.ok);
  const failedMode = modes.find((m) => !m.ok);
  const reason = failed
    ? `${failed.step}: ${failed.detail}`
    : failedMode
      ? `${failedMode.mode}: ${
          failedMode.error ??
          failedMode.checks
            .filter((c) => !c.ok)
            .map((c) => `${c.name} ${String(c.measured)} (allowed ${c.allowed})`)
            .join('; ')
        }`
      : null;
  return {
    schema: DEVICE_CHECK_SCHEMA,
    ok: reason === null,
    reason,
    toolkitVersion: TOOLKIT_VERSION,
    host,
    steps,
    modes,
  };
}

function shimBuilt(options: DeviceCheckOptions): Promise<string> {
  const includes = [
    ...(options.tensorrtInclude ? ['--tensorrt-include', options.tensorrtInclude] : []),
    ...(options.tensorrtLib ? ['--tensorrt-lib', options.tensorrtLib] : []),
  ];
  const buildDir = options.buildDir ? ['--build-dir', options.buildDir] : [];
  return cli(['native', 'build', '--tensorrt', ...includes, ...buildDir]);
}

/** Loads TensorRT and the GPU, noting both on the host. */
function tensorrtLoaded(host: DeviceCheckReport['host']): string {
  const versions = trtVersions();
  const device = trtDevice();
  Object.assign(host, { gpu: device.name, sm: device.sm, tensorrt: versions.loaded });
  return `TensorRT ${versions.loaded} on ${device.name} (SM ${device.sm}, ${device.dlaCores} DLA cores)`;
}

/** The embedded demo (cifar10-b0) built for `target` from the files shipped with the package. */
function demoBundleBuilt(options: { bundle: string; target: string }): Promise<string> {
  const demo = packagePath('demo', 'cifar10-b0');
  return cli([
    'build',
    '--target',
    options.target,
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    join(demo, 'calib'),
    '--eval',
    join(demo, 'eval'),
    '--out',
    options.bundle,
    '--force',
    '--search-count',
    '0',
    '--quiet',
  ]);
}

/** The report as a person reads it: one line per step and mode. */
export function deviceCheckText(report: DeviceCheckReport): string[] {
  const lines = report.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'} ${s.step} (${s.seconds.toFixed(1)} s): ${s.detail}`);
  for (const mode of report.modes) {
    const precision = mode.fusion
      ? Object.entries(mode.fusion.precision)
          .map(([p, n]) => `${p} ${n}`)
          .join(', ')
      : '';
    const fused = mode.fusion?.blocks.length
      ? `, depthwise+SiLU fused in ${mode.fusion.blocks.filter((b) => b.depthwiseWithSilu).length}/${mode.fusion.blocks.length} blocks`
      : '';
    lines.push(
      mode.error !== null
        ? `FAIL engine ${mode.mode}: ${mode.error}`
        : `${mode.ok ? 'ok  ' : 'FAIL'} engine ${mode.mode} (built in ${mode.buildSeconds!.toFixed(1)} s): ${mode.fusion?.engineLayers ?? '?'} layers (${precision})${fused}; ` +
            mode.checks.map((c) => `${c.name} ${String(c.measured)} (${c.allowed})`).join('; '),
    );
  }
  lines.push(report.ok ? 'device check passed' : `device check failed: ${report.reason}`);
  return lines;
}

export async function deviceCheckWritten(path: string, report: DeviceCheckReport): Promise<void> {
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
