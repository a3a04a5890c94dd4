/**
 * The stages of `build` and `quantize` as a person sees them on a terminal, one table per command, in the order
 * the pipelines announce them (pipeline/build.ts, pipeline/quantize.ts, quant/quantize.ts). A row's `runs` says
 * which options run it, so `[k/N]` counts only the stages this run will have.
 */
import type { DeployStage } from '../deploy/deployContract.js';
import type { BuildOptions, BuildStage } from '../pipeline/build.js';
import type { QuantizePipelineOptions, QuantizePipelineStage } from '../pipeline/quantize.js';
import type { StageProgress, StageRow } from './progress.js';
import type { ProgressUnit } from './progressUnits.js';

interface StageTableRow<S extends string, O> extends StageRow<S> {
  /** Absent: every run has this stage. */
  runs?: (options: O) => boolean;
}

type BuildChoices = Pick<BuildOptions, 'precision' | 'auto' | 'searchCount' | 'biasCorrection'>;
type QuantizeChoices = Pick<QuantizePipelineOptions, 'auto' | 'searchCount' | 'biasCorrection' | 'maxDrop'>;

const searched = (o: { auto: boolean; searchCount?: number }) => o.auto && o.searchCount !== 0;
const corrected = (o: { biasCorrection?: object }) => o.biasCorrection !== undefined;

/** `build`: the pipeline's stages, then the command's own `write`. */
export const BUILD_STAGES: readonly StageTableRow<BuildStage | 'write', BuildChoices>[] = [
  { stage: 'read', label: 'reading images' },
  { stage: 'calibrate', label: 'calibrating', runs: (o) => o.precision === 'int8' },
  { stage: 'select', label: 'choosing the calibrator', runs: (o) => o.precision === 'int8' && o.auto },
  { stage: 'search', label: 'searching activation ranges', runs: (o) => o.precision === 'int8' && searched(o) },
  { stage: 'bias-correct', label: 'correcting biases', runs: (o) => o.precision === 'int8' && corrected(o) },
  { stage: 'evaluate', label: 'evaluating on the held-out images' },
  { stage: 'golden', label: 'recording the golden set and device thresholds' },
  { stage: 'write', label: 'writing the bundle' },
];

/** `quantize`: the pipeline's stages, then the command's own `write`. */
export const QUANTIZE_STAGES: readonly StageTableRow<QuantizePipelineStage | 'write', QuantizeChoices>[] = [
  { stage: 'read', label: 'reading images', runs: (o) => o.auto || corrected(o) },
  { stage: 'calibrate', label: 'calibrating' },
  { stage: 'select', label: 'choosing the calibrator', runs: (o) => o.auto },
  { stage: 'search', label: 'searching activation ranges', runs: searched },
  { stage: 'bias-correct', label: 'correcting biases', runs: corrected },
  { stage: 'max-drop', label: 'keeping the most sensitive layers in float', runs: (o) => o.maxDrop !== undefined },
  { stage: 'write', label: 'writing the files' },
];

/** `deploy` to one device: the command's own `connect`, then deploy.ts's steps (a fleet reports per host instead). */
export const DEPLOY_STAGES: readonly StageTableRow<'connect' | DeployStage, { install: boolean; runtime: string }>[] = [
  { stage: 'connect', label: 'connecting' },
  { stage: 'probe', label: 'checking the device' },
  { stage: 'toolkit', label: 'installing effnet-edge', runs: (o) => o.install },
  { stage: 'toolkit', label: "finding the device's effnet-edge", runs: (o) => !o.install },
  { stage: 'upload', label: 'uploading the bundle' },
  { stage: 'engine', label: 'building the TensorRT engine', runs: (o) => o.runtime === 'tensorrt' },
  { stage: 'verify', label: 'verifying on the device' },
  { stage: 'switch', label: 'switching to the release' },
];

/** The rows of `table` that a run with `options` has. */
export function stagesFor<S extends string, O>(table: readonly StageTableRow<S, O>[], options: O): StageRow<S>[] {
  return table.filter((row) => row.runs?.(options) ?? true).map(({ stage, label }) => ({ stage, label }));
}

/** What each kind of work the pipelines report (their `onProgress` stage names) counts. */
export function unitOf(work: string): ProgressUnit {
  if (work === 'range search') return 'tensor';
  if (work === 'calibrator choice') return 'img';
  if (work === 'bias correction' || work === 'sensitivity') return 'layer';
  return 'img';
}

/** The pipeline callbacks that draw on `lines`: stages, their work, and warnings written above the live line. */
export function stageHooks<S extends string>(lines: StageProgress<S>, warn: (message: string) => void) {
  return {
    onStage: (stage: S) => lines.stage(stage),
    onProgress: (work: string, done: number, total: number) => lines.update(done, total, unitOf(work)),
    onWarning: (message: string) => lines.aside(() => warn(message)),
  };
}
