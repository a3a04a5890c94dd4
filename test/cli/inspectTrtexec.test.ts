import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { trtexecArgsFor } from '../../toolkit/runtime/trtexec.js';
import { trtReleaseFrom } from '../../toolkit/runtime/trtPlan.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

t.test('trtexec flags as each release spells them', async (t) => {
  const common = {
    precision: 'fp16' as const,
    onnx: 'model.fp32.onnx',
    inputName: 'input',
    inputSize: 224,
    maxBatch: 8,
    workspaceMiB: 512,
  };
  t.strictSame(trtexecArgsFor({ ...common, release: trtReleaseFrom('8.2') }), [
    '/usr/src/tensorrt/bin/trtexec',
    '--onnx=model.fp32.onnx',
    '--fp16',
    '--minShapes=input:1x3x224x224',
    '--optShapes=input:1x3x224x224',
    '--maxShapes=input:8x3x224x224',
    '--workspace=512',
    '--saveEngine=model.plan',
    '--profilingVerbosity=detailed',
    '--exportLayerInfo=layers.json',
  ]);
  t.strictSame(
    trtexecArgsFor({ ...common, release: trtReleaseFrom('8.0') }).slice(6),
    ['--workspace=512', '--saveEngine=model.plan'],
    '8.0: no inspector, so no layer information',
  );
  t.ok(
    trtexecArgsFor({ ...common, release: trtReleaseFrom('8.6') }).includes('--memPoolSize=workspace:512'),
    '--workspace is deprecated from 8.4',
  );
  t.strictSame(
    trtexecArgsFor({ ...common, precision: 'int8', onnx: 'model.int8.onnx', release: trtReleaseFrom('8.6') }).slice(
      1,
      4,
    ),
    ['--onnx=model.int8.onnx', '--int8', '--fp16'],
  );
});

const dir = t.testdir();

/** One fp16 Nano bundle of the embedded demo for the tests below. */
async function nanoBundle(): Promise<string> {
  const bundle = join(dir, 'nano');
  if (existsSync(join(bundle, 'manifest.json'))) return bundle;
  const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
  const built = await runCli([
    'build',
    '--target',
    'jetson-nano',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    join(demo, 'calib'),
    '--eval',
    join(demo, 'eval'),
    '--out',
    bundle,
    '--golden',
    '8',
    '--quiet',
  ]);
  if (built.code !== 0) throw new Error(`the Nano bundle did not build: ${built.stderr}`);
  return bundle;
}

t.test('a Nano bundle: inspect gives the trtexec commands, since effnet-edge cannot run on JetPack 4', async (t) => {
  const bundle = await nanoBundle();
  const inspect = await runCli(['inspect', '--bundle', bundle]);
  t.equal(inspect.code, 0, inspect.stderr);
  const steps = inspect.stdout.slice(inspect.stdout.indexOf('on the device'));
  t.equal(
    steps,
    [
      'on the device (effnet-edge deploy refuses this target):',
      "  1. copy the bundle to the device (effnet-edge cannot run on JetPack 4.6: Ubuntu 18.04's glibc 2.27 is older than Node.js 20 needs), and in its folder:",
      '     TensorRT 8.0: /usr/src/tensorrt/bin/trtexec --onnx=model.fp32.onnx --fp16 --minShapes=input:1x3x32x32 --optShapes=input:1x3x32x32 --maxShapes=input:8x3x32x32 --workspace=512 --saveEngine=model.plan',
      '     TensorRT 8.2: /usr/src/tensorrt/bin/trtexec --onnx=model.fp32.onnx --fp16 --minShapes=input:1x3x32x32 --optShapes=input:1x3x32x32 --maxShapes=input:8x3x32x32 --workspace=512 --saveEngine=model.plan --profilingVerbosity=detailed --exportLayerInfo=layers.json',
      '  2. then here: effnet-edge engine report --layer-info layers.json --model model.fp32.onnx (the layer information needs TensorRT 8.2+); the golden-set verify does not run on such a device',
      '',
    ].join('\n'),
  );
});

t.test('deploy refuses a Nano bundle before connecting, and says where the commands are', async (t) => {
  const bundle = await nanoBundle();
  // Port 9 on localhost refuses connections: the refusal must come before any attempt.
  const result = await runCli(['deploy', '--bundle', bundle, '--host', 'ubuntu@127.0.0.1:9']);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `effnet-edge deploy: ${bundle} is for jetson-nano, whose JetPack cannot run effnet-edge (Node.js 20 needs glibc 2.28): deploy does not go there; ` +
      `copy the bundle and build its engine on the device with trtexec: effnet-edge inspect --bundle ${bundle} prints the commands\n`,
  );
});
