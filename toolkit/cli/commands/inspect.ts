/** `effnet-edge inspect`: a bundle's manifest, its files checked against their sha256, accuracy and deploy plan. */
import { join } from 'node:path';
import {
  bundleFileChecks,
  bundleFilePath,
  manifestFromBundle,
  nativeInt8Fits,
  type BundleManifest,
} from '../../bundle/manifest.js';
import { UserError } from '../../errors.js';
import { boundsOf, thresholdLines } from '../../bundle/thresholds.js';
import type { Command } from '../command.js';
import { flag, requiredString } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP } from '../sharedOptions.js';
import { allTargets, type Target } from '../../../targets/load.js';
import { modelFromFile } from '../../onnx/read.js';
import { shellQuote } from '../../deploy/ssh.js';
import { TRTEXEC_LAYER_INFO, trtexecArgsFor } from '../../runtime/trtexec.js';
import { trtReleaseFrom } from '../../runtime/trtPlan.js';

/**
 * For a target whose device cannot run effnet-edge (JetPack 4): how to build and check the engine there with
 * trtexec, one step per TensorRT release the target names (their flags differ), and read the fusion report here.
 */
export function trtexecSteps(options: { manifest: BundleManifest; target: Target; inputName: string }): string[] {
  const { manifest, target } = options;
  const onnx = manifest.engine.precision === 'int8' ? manifest.engine.onnx : 'model.fp32.onnx';
  return [
    `copy the bundle to the device (effnet-edge cannot run on JetPack ${target.jetpack}: Ubuntu 18.04's glibc 2.27 is older than Node.js 20 needs), and in its folder:`,
    ...target.tensorrt!.map(
      (version) =>
        `  TensorRT ${version}: ${trtexecArgsFor({
          release: trtReleaseFrom(version),
          precision: manifest.engine.precision,
          onnx,
          inputName: options.inputName,
          inputSize: manifest.inputSize,
          maxBatch: 8,
          workspaceMiB: manifest.engine.workspaceMiB ?? 1024,
        })
          .map(shellQuote)
          .join(' ')}`,
    ),
    `then here: effnet-edge engine report --layer-info ${TRTEXEC_LAYER_INFO} --model ${onnx} (the layer information needs TensorRT 8.2+); the golden-set verify does not run on such a device`,
  ];
}

/** What deploying the bundle will do on its target, step by step. */
export function deploySteps(manifest: BundleManifest): string[] {
  const { engine, target } = manifest;
  const upload = `upload ${Object.keys(manifest.files).length + 1} files to releases/<id>/ and check their sha256 on the device`;
  const build =
    target.runtime === 'tensorrt'
      ? `build a TensorRT ${engine.precision} engine from ${engine.onnx} on the device (SM ${engine.sm}${engine.dlaCores ? `, GPU or one of ${engine.dlaCores} DLA cores` : ''}, workspace ${engine.workspaceMiB} MiB${engine.calibration ? `, ${engine.calibration} for implicit int8 and DLA` : ''}), cached by ${engine.keyFields.join(' + ')}`
      : nativeInt8Fits(manifest)
        ? `load ${engine.onnx} on the device's native int8 engine (native-int8; a device toolkit without it fails the release)`
        : `load ${engine.onnx} in ONNX Runtime (CPU)`;
  const verify = `run the ${manifest.golden.count}-image golden set on the device's runtime against the thresholds the build recorded for it:`;
  const perRuntime = thresholdLines({
    thresholds: manifest.thresholds,
    referenceName: engine.precision === 'int8' ? 'int8' : 'fp32',
  }).map((line) => `  ${line}`);
  return [
    upload,
    build,
    verify,
    ...perRuntime,
    'only if every check passed, switch the current release link atomically; on any failure, leave it and mark the release FAILED',
  ];
}

/** Steps numbered 1., 2., …; a step starting with two spaces is a detail of the one before. */
function numbered(steps: string[]): string[] {
  let n = 0;
  return steps.map((s) => (s.startsWith('  ') ? `   ${s}` : `  ${++n}. ${s}`));
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show a bundle: manifest, file checks (sha256), measured accuracy and what deploying it will do.',
  usage: 'effnet-edge inspect --bundle DIR [--json]',
  examples: [
    'effnet-edge inspect --bundle dist/b0-orin-nano',
    'effnet-edge inspect --bundle dist/b0-orin-nano --json | jq .accuracy',
  ],
  groups: [[BUNDLE_OPTION], JSON_GROUP],
  async run(args, io) {
    const bundle = requiredString(args, 'bundle');
    const manifest = await manifestFromBundle(bundle);
    const checks = await bundleFileChecks(bundle, manifest);
    const failed = checks.filter((c) => !c.ok);
    const target = allTargets().find((t) => t.name === manifest.target.name);
    const steps =
      target?.deviceSide === 'trtexec'
        ? trtexecSteps({
            manifest,
            target,
            inputName: (
              await modelFromFile({
                path: await bundleFilePath({ bundle, manifest, name: 'model.fp32.onnx', field: 'files' }),
              })
            ).graph.inputs[0]!.name,
          })
        : deploySteps(manifest);
    if (flag(args, 'json')) {
      const bounds = boundsOf(manifest.thresholds);
      io.stdout(`${JSON.stringify({ bundle, ok: failed.length === 0, checks, steps, bounds, manifest }, null, 2)}\n`);
    } else {
      const a = manifest.accuracy;
      const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(2)} %`);
      const model =
        manifest.model.source === 'onnx'
          ? `${manifest.model.file} (sha256 ${manifest.model.sha256.slice(0, 12)}…)`
          : `${manifest.model.variant}`;
      io.stdout(
        [
          `bundle ${bundle}: ${manifest.target.name} (${manifest.target.runtime}, ${manifest.target.precision}), effnet-edge ${manifest.toolkit.version}`,
          `model: ${model}, input ${manifest.inputSize}x${manifest.inputSize}, ${manifest.classes ? `${manifest.classes.length} classes` : 'classes unknown'}, preprocessing ${manifest.preprocessing.preset}`,
          manifest.calibration
            ? `calibration: ${manifest.calibration.calibrator.method}${manifest.calibration.calibrator.percentile ? ` ${manifest.calibration.calibrator.percentile}` : ''} on ${manifest.calibration.images} images${manifest.calibration.search ? `, ranges searched on ${manifest.calibration.search.images}` : ''}, ${manifest.calibration.profile} placement, ${manifest.calibration.weightRange}-range weights`
            : 'calibration: none (float precision)',
          `accuracy on ${a.images} images: fp32 top-1 ${pct(a.fp32.top1)}${a.int8 ? `, int8 top-1 ${pct(a.int8.top1)}, agreement ${pct(a.agreement)}, cosine ${a.cosine!.toFixed(4)}` : ''}`,
          'files:',
          ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.file}${c.problem ? `: ${c.problem}` : ''}`),
          target?.deviceSide === 'trtexec' ? 'on the device (effnet-edge deploy refuses this target):' : 'deploy will:',
          ...numbered(steps),
          '',
        ].join('\n'),
      );
    }
    if (failed.length) {
      const first = failed[0]!;
      const problem =
        first.problem === 'missing'
          ? 'missing'
          : first.problem!.startsWith('sha256 ')
            ? 'sha256 does not match the manifest'
            : first.problem;
      throw new UserError(
        `${join(bundle, first.file)}: ${problem}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}; the bundle is damaged: rebuild it with effnet-edge build`,
      );
    }
    return 0;
  },
};
