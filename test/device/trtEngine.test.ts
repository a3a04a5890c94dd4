/**
 * The TensorRT path end to end: a Jetson bundle's engine built, reused, run and inspected on this machine's GPU.
 * Skipped with the reason wherever the shim or TensorRT does not load (every machine our CI runs on so far).
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { floatsFromBytes, type GoldenIndex } from '../../toolkit/bundle/golden.js';
import { manifestFromBundle } from '../../toolkit/bundle/manifest.js';
import { top1Agreement } from '../../toolkit/eval/metrics.js';
import { bundleRunner } from '../../toolkit/device/bundleRunner.js';
import { trtUnavailableReason } from '../../toolkit/runtime/trt.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const reason = trtUnavailableReason();

t.test(
  "a Jetson bundle's engine: built once, reused, and agreeing with the build-time int8 logits",
  { skip: reason ?? false },
  async (t) => {
    const bundle = join(t.testdir(), 'orin');
    const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
    const built = await runCli([
      'build',
      '--target',
      'jetson-orin-nano',
      '--model',
      join(demo, 'model.onnx'),
      '--calib',
      join(demo, 'calib'),
      '--eval',
      join(demo, 'eval'),
      '--out',
      bundle,
      '--search-count',
      '0',
      '--calib-count',
      '20',
      '--golden',
      '8',
      '--quiet',
    ]);
    t.equal(built.code, 0, built.stderr);

    const first = await runCli(['engine', 'build', '--bundle', bundle, '--json']);
    t.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout) as { built: boolean; plan: string; fusion: { blocks: unknown[] } };
    t.equal(report.built, true);
    t.equal(report.fusion.blocks.length, 16, 'one fusion row per MBConv block of B0');
    const again = JSON.parse((await runCli(['engine', 'build', '--bundle', bundle, '--json'])).stdout) as {
      built: boolean;
      plan: string;
    };
    t.strictSame([again.built, again.plan], [false, report.plan], 'the keyed plan is reused');

    const manifest = await manifestFromBundle(bundle);
    const golden = JSON.parse(await readFile(join(bundle, manifest.golden.index), 'utf8')) as GoldenIndex;
    const inputs = floatsFromBytes(await readFile(join(bundle, golden.files.inputs)));
    const recorded = floatsFromBytes(await readFile(join(bundle, golden.files.int8!)));
    const runner = await bundleRunner({ bundle, manifest, model: 'int8', runtime: 'tensorrt', onNotice: () => {} });
    try {
      t.equal(runner.runtime, 'tensorrt');
      const logits = (await runner.run(inputs, golden.inputShape))[runner.outputNames[0]!]!;
      const agreement = top1Agreement(
        { data: logits, classes: golden.classes },
        { data: recorded, classes: golden.classes },
      );
      t.ok(
        agreement >= manifest.thresholds.runtimes.tensorrt!.minReferenceAgreement,
        `TensorRT top-1 agrees with ONNX Runtime's int8 on ${agreement} % (threshold ${manifest.thresholds.runtimes.tensorrt!.minReferenceAgreement} %)`,
      );
    } finally {
      await runner.close();
    }
  },
);

t.test(
  'without TensorRT the reason is the one the skip above prints',
  { skip: reason === null ? 'TensorRT loads here' : false },
  async (t) => {
    t.match(reason, /^TensorRT not found \(/);
  },
);
