import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { runCli } from '../helpers/cli.js';
import { CIFAR_B0, REPO_ROOT } from '../helpers/paths.js';

const QAT_RESIDUAL = join(
  REPO_ROOT,
  'test',
  'fixtures',
  'trex',
  'pytorch',
  'resnet',
  'A100',
  'qat-residual',
  'resnet-qat-residual.onnx.engine.graph.json',
);

t.test('engine report on a real trex engine prints the report per layer', async (t) => {
  const { code, stdout, stderr } = await runCli(['engine', 'report', '--layer-info', QAT_RESIDUAL]);
  t.equal(code, 0, stderr);
  t.equal(stderr, '');
  const lines = stdout.split('\n');
  t.equal(lines.length, 34, '26 layers, 7 more lines and the final newline');
  t.strictSame(lines.slice(0, 4), [
    `${QAT_RESIDUAL}: 26 engine layers (detailed)`,
    'layers (index, type, precision, name[ → ONNX nodes (evidence)]):',
    '    0  Reformat         int8     QuantizeLinear_2 [Q/DQ]',
    '    1  ConvActPool      int8     conv1.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12',
  ]);
  t.equal(lines[21], '   19  Reformat         fp32     DequantizeLinear_291 [Q/DQ]');
  t.strictSame(lines.slice(-7), [
    '   25  NoOp             fp32     copied_squeeze_after_(Unnamed Layer* 355) [ElementWise]',
    'precision: int8 21, fp32 5',
    'reformat layers: 0',
    'Q/DQ left as layers of their own (placement kept them from fusing): 3: QuantizeLinear_2, DequantizeLinear_291, QuantizeLinear_298',
    'device placement not recorded',
    'unmapped layers: 1: copied_squeeze_after_(Unnamed Layer* 355) [ElementWise]',
    '',
  ]);
});

t.test('engine report --json prints the same report as one object', async (t) => {
  const { code, stdout } = await runCli(['engine', 'report', '--layer-info', QAT_RESIDUAL, '--json']);
  t.equal(code, 0);
  const json = JSON.parse(stdout) as {
    layerInfo: string;
    model: null;
    fusion: Record<string, unknown> & { layers: { name: string; nodes: string[] }[] };
  };
  t.equal(json.layerInfo, QAT_RESIDUAL);
  t.equal(json.model, null);
  t.match(json.fusion, {
    engineLayers: 26,
    form: 'detailed',
    otherProfileLayers: 0,
    bindings: ['input.1', '470'],
    blocks: [],
    precision: { int8: 21, fp32: 5 },
    reformats: { count: 0, noOps: 0, layers: [] },
    unfusedQdq: ['QuantizeLinear_2', 'DequantizeLinear_291', 'QuantizeLinear_298'],
    unmappedLayers: ['copied_squeeze_after_(Unnamed Layer* 355) [ElementWise]'],
    unownedNodes: null,
    devices: null,
  });
  t.strictSame(json.fusion.layers[3]!.nodes, [
    'layer1.0.conv2.weight',
    'QuantizeLinear_32',
    'Conv_34',
    'Add_42',
    'Relu_43',
  ]);
});

t.test('engine report --model gives the per-block report, by the names of the graph given', async (t) => {
  const model = join(CIFAR_B0, 'model.onnx');
  const nodes = (await modelFromFile({ path: model })).graph.nodes;
  const stem = nodes.slice(0, 3).map((n) => n.name);
  t.match(stem[0], /^\/features\/features\.0\/.*Conv$/, 'the torchvision export names its nodes by module path');
  const file = join(t.testdir(), 'layers.json');
  writeFileSync(
    file,
    JSON.stringify({
      Layers: [`${stem[0]} + PWN(${stem[1]}, ${stem[2]})`, `{ForeignNode[${nodes[3]!.name}...${nodes.at(-1)!.name}]}`],
    }),
  );
  const { code, stdout, stderr } = await runCli(['engine', 'report', '--layer-info', file, '--model', model]);
  t.equal(code, 0, stderr);
  const blocks = ['1a', '2a', '2b', '3a', '3b', '4a', '4b', '4c', '5a', '5b', '5c', '6a', '6b', '6c', '6d', '7a'];
  t.equal(
    stdout,
    [
      `${file}: 2 engine layers (names only)`,
      `MBConv blocks: 16; engine layers per block: ${blocks.map((b) => `${b} 1`).join(', ')}`,
      'depthwise conv + SiLU fused in 16 of 16 blocks',
      `SE blocks: ${blocks.map((b) => `${b} 1`).join(', ')} engine layers`,
      'residual Add fused into the projection conv in 9 of 9 blocks',
      'precision: unknown 2',
      'reformat layers: 0',
      'Q/DQ left as layers of their own (placement kept them from fusing): 0',
      'device placement not recorded',
      'unmapped layers: 0',
      'ONNX nodes no layer owns: 0',
      '',
    ].join('\n'),
  );
});

t.test('engine report: user and usage errors', async (t) => {
  const dir = t.testdir({ 'notes.txt': 'not json at all', 'empty.json': '{"Bindings": []}' });
  const missing = join(dir, 'missing.json');
  t.strictSame(await runCli(['engine', 'report', '--layer-info', missing]), {
    code: 1,
    stdout: '',
    stderr: `effnet-edge engine: ${missing}: does not exist; check the path\n`,
  });
  const notes = join(dir, 'notes.txt');
  t.strictSame(await runCli(['engine', 'report', '--layer-info', notes]), {
    code: 1,
    stdout: '',
    stderr: `effnet-edge engine: ${notes}: is not JSON; give the file that trtexec --exportLayerInfo or the engine inspector wrote\n`,
  });
  const empty = join(dir, 'empty.json');
  t.equal(
    (await runCli(['engine', 'report', '--layer-info', empty])).stderr,
    `effnet-edge engine: ${empty}: has no Layers list; export it with trtexec --exportLayerInfo=FILE --profilingVerbosity=detailed\n`,
  );
  const usage = (message: string) => ({
    code: 2,
    stdout: '',
    stderr: `effnet-edge engine: ${message}\nRun 'effnet-edge engine --help' for usage.\n`,
  });
  t.strictSame(
    await runCli(['engine', 'report']),
    usage('--layer-info FILE.json is required: the file trtexec --exportLayerInfo or the engine inspector wrote'),
  );
  t.strictSame(
    await runCli(['engine', 'report', '--layer-info', notes, '--bundle', dir]),
    usage("--bundle belongs to 'engine build'"),
  );
  t.strictSame(
    await runCli(['engine', 'build', '--bundle', dir, '--model', 'm.onnx']),
    usage("--model belongs to 'engine report'"),
  );
  t.strictSame(
    await runCli(['engine', 'inspect']),
    usage("expected 'engine build' or 'engine report', got 'engine inspect'"),
  );
  const help = await runCli(['engine', '--help']);
  t.match(help.stdout, /\n {7}effnet-edge engine report --layer-info FILE\.json \[--model M\.onnx\] \[--json\]\n/);
});
