/**
 * Hostile ONNX models (issue 16): external data is read through its real path (a symlink inside the model's folder
 * that points out is refused) and in bounded chunks, with a bound on any one tensor, so a 308-byte model declaring
 * gigabytes cannot abort the process.
 */
import t from 'tap';
import { rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel } from '../../toolkit/onnx/proto.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { writeModelFile } from '../../toolkit/onnx/write.js';
import { tinyModel } from '../onnx/fixtures/models.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

/** A model whose tensors live in `m.onnx.data`, written to a fresh folder. */
async function externalModel(dir: string): Promise<string> {
  const file = join(dir, 'm.onnx');
  await writeModelFile({ model: tinyModel(), path: file, externalData: { location: 'm.onnx.data', sizeThreshold: 0 } });
  return file;
}

t.test('an external data file that is a symlink out of the folder is not followed', async (t) => {
  const root = t.testdir({ model: {}, outside: {} });
  const dir = join(root, 'model');
  const file = await externalModel(dir);
  const secret = join(root, 'outside', 'secret');
  writeFileSync(secret, Buffer.alloc(4096, 7));
  rmSync(join(dir, 'm.onnx.data'));
  symlinkSync(secret, join(dir, 'm.onnx.data'));
  await t.rejects(modelFromFile({ path: file }), {
    message: `${file}: external data file 'm.onnx.data' resolves to ${secret}, outside ${dir} (through a symlink); refusing to read it`,
  });
});

t.test('gigabytes of declared external data are refused before any read', async (t) => {
  const dir = t.testdir();
  const file = await externalModel(dir);
  const lazy = await modelFromFile({ path: file, loadExternalData: false });
  const first = lazy.graph.initializers[0]!;
  const huge = { ...first, dims: [800_000_000] };
  const refs = new Map(
    lazy.graph.initializers.map((ti) => [
      ti === first ? huge : ti,
      ti === first ? { ...ti.external!, offset: 0, length: 3_200_000_000 } : ti.external!,
    ]),
  );
  const model = {
    ...lazy,
    graph: { ...lazy.graph, initializers: lazy.graph.initializers.map((ti) => (ti === first ? huge : ti)) },
  };
  writeFileSync(file, encodeModel(model, { external: refs }).concat());
  // A sparse data file of that size: the declared bytes exist, so only the bound stops the read.
  truncateSync(join(dir, 'm.onnx.data'), 3_300_000_000);
  await t.rejects(modelFromFile({ path: file }), {
    message: `${file}: tensor '${first.name}' declares 3200000000 bytes of external data; effnet-edge reads tensors of at most 1073741824 bytes (1 GiB), far above any EfficientNet weight`,
  });
});

t.test(
  'summary uses build\'s recogniser: a pooling + Gemm model or a cyclic graph is not "EfficientNet"',
  async (t) => {
    const dir = t.testdir();
    const plain = join(dir, 'plain.onnx');
    await writeModelFile({ model: tinyModel(), path: plain });
    const summary = await runCli(['summary', '--model', plain]);
    t.equal(summary.code, 1);
    t.equal(
      summary.stderr,
      `effnet-edge summary: ${plain}: not an EfficientNet-style classifier; expected MBConv blocks (depthwise conv, SE, SiLU) and one [batch, classes] output, found 0 MBConv blocks, 1 output(s) ('y' [1, 5])\n`,
    );
    const cyclic = join(dir, 'cyclic.onnx');
    const model = tinyModel();
    // relu reads the classifier's output: relu -> gap -> flat -> fc -> relu.
    const nodes = model.graph.nodes.map((n) => (n.name === 'relu' ? { ...n, inputs: ['y'] } : n));
    await writeModelFile({ model: { ...model, graph: { ...model.graph, nodes } }, path: cyclic });
    for (const [name, ...args] of [
      ['summary', '--model', cyclic],
      ['quantize', '--model', cyclic, '--calib', dir, '--out', join(dir, 'q.onnx')],
    ] as const) {
      const result = await runCli([name, ...args]);
      t.equal(result.code, 1, name);
      t.match(result.stderr, `${cyclic}: node '`, name);
      t.match(result.stderr, 'is part of a cycle; an ONNX graph must be acyclic: fix the tool that wrote it\n', name);
    }
  },
);

t.test('a 100000 x 100000 input is refused before anything is allocated for it', async (t) => {
  const dir = t.testdir();
  const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
  const model = await modelFromFile({ path: join(demo, 'model.onnx') });
  const input = model.graph.inputs[0]!;
  const huge = join(dir, 'huge.onnx');
  await writeModelFile({
    model: {
      ...model,
      graph: { ...model.graph, inputs: [{ ...input, shape: [input.shape![0]!, 3, 100000, 100000] }] },
    },
    path: huge,
  });
  const build = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    huge,
    '--calib',
    join(demo, 'calib'),
    '--out',
    join(dir, 'out'),
  ]);
  t.equal(build.code, 1);
  t.equal(
    build.stderr,
    `effnet-edge build: the model's input '${input.name}' is 100000x100000; effnet-edge takes square inputs from 1 to 4096 pixels (EfficientNet-B7 uses 600)\n`,
  );
});
