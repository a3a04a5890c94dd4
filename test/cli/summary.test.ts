import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VARIANT_NAMES } from '../../toolkit/model/variants.js';
import { CIFAR_B0, REFERENCE } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

const reference = JSON.parse(readFileSync(join(REFERENCE, 'params.json'), 'utf8')) as Record<
  string,
  {
    resolution: number;
    params: number;
    macs: number;
    seed_formula_flops: number;
    stage_params: Record<string, number>;
    stage_macs: Record<string, number>;
  }
>;

for (const variant of VARIANT_NAMES) {
  t.test(`summary --variant ${variant} --json equals the reference`, async (t) => {
    const { code, stdout, stderr } = await runCli(['summary', '--variant', variant, '--json']);
    t.equal(code, 0);
    t.equal(stderr, '');
    const json = JSON.parse(stdout) as {
      variant: string;
      resolution: number;
      params: number;
      macs: number;
      seedFormulaFlops: number;
      stages: { name: string; key: string; params: number; macs: number }[];
    };
    const ref = reference[variant]!;
    t.equal(json.variant, variant);
    t.equal(json.resolution, ref.resolution);
    t.equal(json.params, ref.params);
    t.equal(json.macs, ref.macs);
    t.equal(json.seedFormulaFlops, ref.seed_formula_flops);
    t.strictSame(
      json.stages.map((s) => s.name),
      ['stem', 'mbconv1', 'mbconv2', 'mbconv3', 'mbconv4', 'mbconv5', 'mbconv6', 'mbconv7', 'top_conv', 'fc'],
    );
    t.strictSame(Object.fromEntries(json.stages.map((s) => [s.key, s.params])), ref.stage_params);
    t.strictSame(Object.fromEntries(json.stages.map((s) => [s.key, s.macs])), ref.stage_macs);
    t.notOk('layers' in json, 'layers only with --layers');
  });
}

t.test('summary prints the Table 1 view with totals and the FLOPs note', async (t) => {
  const { code, stdout } = await runCli(['summary', '--variant', 'b0']);
  t.equal(code, 0);
  const lines = stdout.split('\n');
  t.equal(lines[0], 'EfficientNet b0: resolution 224, 1000 classes');
  t.equal(
    lines[2],
    'Stage  Name      Operator       Resolution  Channels  Layers     Params         MACs      Seed FLOPs',
  );
  t.equal(
    lines[3],
    '1      stem      Conv3x3        224x224           32       1        928   10,838,016      10,838,016',
  );
  t.equal(
    lines[5],
    '3      mbconv2   MBConv6, k3x3  112x112           24       2     16,714   54,945,216     893,536,704',
  );
  t.equal(
    lines[13],
    '       total                                              16  5,288,548  385,814,752  15,332,130,304',
  );
  t.match(stdout, /ignores groups, so it counts each depthwise convolution Ci times over/);
});

t.test('summary --layers prints every layer', async (t) => {
  const { stdout } = await runCli(['summary', '--variant', 'b0', '--layers']);
  const lines = stdout.trimEnd().split('\n');
  t.equal(
    lines[2],
    'Layer            Kind                  In    Out  Kernel  Stride  Groups  Output      Params        MACs     Seed FLOPs',
  );
  t.equal(
    lines[4],
    '1a.dwconv        depthwise             32     32       3       1      32  112x112        352   3,612,672    115,605,504',
  );
  t.match(
    lines.find((l) => l.startsWith('fc ')),
    /^fc\s+linear\s+1,280\s+1,000\s+1\s+1\s+1\s+1x1\s+1,281,000\s+1,280,000\s+1,280,000$/,
  );
  const json = JSON.parse((await runCli(['summary', '--variant', 'b2', '--layers', '--json'])).stdout) as {
    layers: { name: string }[];
  };
  t.equal(
    json.layers.length,
    1 + 23 * 4 + 22 + 2 - 1,
    'b2: stem, 23 blocks × (dw, fc1, fc2, project) + 22 expands, top, fc',
  );
});

t.test("summary --model recognises the torchvision export's structure", async (t) => {
  const model = JSON.parse((await runCli(['summary', '--model', join(CIFAR_B0, 'model.onnx'), '--json'])).stdout) as {
    resolution: number;
    params: number;
    macs: number;
    stages: { key: string; macs: number }[];
  };
  const built = JSON.parse(
    (await runCli(['summary', '--variant', 'b0', '--resolution', '32', '--num-classes', '10', '--json'])).stdout,
  ) as typeof model;
  t.equal(model.resolution, 32);
  t.equal(model.macs, built.macs, 'MACs equal the built b0 at 32×32');
  t.strictSame(
    model.stages.map((s) => [s.key, s.macs]),
    built.stages.map((s) => [s.key, s.macs]),
    'per-stage MACs too',
  );
  t.equal(built.params - model.params, 21008, 'the export folded each BN (2·Co params) into a conv bias (Co)');
});

t.test('usage and user errors', async (t) => {
  const bad = await runCli(['summary', '--variant', 'b9']);
  t.equal(bad.code, 2);
  t.equal(
    bad.stderr,
    "effnet-edge summary: unknown variant 'b9': expected one of b0, b1, b2, b3, b4, b5, b6, b7\nRun 'effnet-edge summary --help' for usage.\n",
  );
  const unknown = await runCli(['summary', '--bogus']);
  t.equal(unknown.code, 2);
  t.equal(
    unknown.stderr,
    "effnet-edge summary: Unknown option '--bogus'\nRun 'effnet-edge summary --help' for usage.\n",
  );
  const mixed = await runCli(['summary', '--model', 'm.onnx', '--variant', 'b0']);
  t.equal(mixed.code, 2);
  t.match(mixed.stderr, /^effnet-edge summary: --model summarises the file as it is: drop --variant/);
  const help = await runCli(['summary', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: effnet-edge summary /);
  t.match(help.stdout, /--layers/);
  const notOnnx = await runCli(['summary', '--model', join(CIFAR_B0, 'meta.json')]);
  t.equal(notOnnx.code, 1);
  t.match(notOnnx.stderr, new RegExp(`^effnet-edge summary: ${join(CIFAR_B0, 'meta.json')}: `));
  t.equal(notOnnx.stderr.split('\n').length, 2, 'one line, no stack trace');
});
