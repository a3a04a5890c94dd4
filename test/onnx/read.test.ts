import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { FileFormatError } from '../../toolkit/errors.js';
import type { Model } from '../../toolkit/onnx/ir.js';
import { modelFromBytes, modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel, writeModelFile } from '../../toolkit/onnx/write.js';
import { encodeModel } from '../../toolkit/onnx/proto.js';
import { WireReader } from '../../toolkit/onnx/wire.js';
import { FIXTURE, fixtureBytes, tinyModel } from './fixtures/models.js';

/** The message of the FileFormatError that `fn` throws, or a note saying what happened instead. */
async function failure(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return err instanceof FileFormatError ? err.message : `not a FileFormatError: ${String(err)}`;
  }
  return 'no error';
}

const withChange = (change: (m: Model) => void): Uint8Array => {
  const m = tinyModel();
  change(m);
  return bytesFromModel(m);
};

t.test('reads the torch export', async (t) => {
  const warnings: string[] = [];
  const model = await modelFromFile({ path: FIXTURE, onWarning: (w) => warnings.push(w) });
  t.equal(model.producerName, 'pytorch');
  t.same(
    model.graph.inputs.map((i) => i.shape),
    [['batch', 3, 32, 32]],
  );
  t.same(
    model.graph.outputs.map((o) => o.name),
    ['logits'],
  );
  t.same(warnings, []);
});

t.test('files that are not ONNX models', async (t) => {
  const dir = t.testdir({
    'photo.jpg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00]),
    'notes.txt': 'name,score\nfoo,1\n',
    'empty.onnx': '',
    'weights.pt': Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00]),
  });
  const hint = 'expected a .onnx file written by torch.onnx.export or onnx.save';
  for (const [name, kind] of [
    ['photo.jpg', 'it looks like a JPEG image'],
    ['notes.txt', 'it looks like a text file'],
    ['weights.pt', 'it looks like a ZIP archive, such as a PyTorch .pt checkpoint'],
  ]) {
    const file = path.join(dir, name!);
    t.equal(await failure(() => modelFromFile({ path: file })), `${file}: is not an ONNX model (${kind}); ${hint}`);
  }
  const empty = path.join(dir, 'empty.onnx');
  t.equal(
    await failure(() => modelFromFile({ path: empty })),
    `${empty}: is empty (0 bytes), not an ONNX model; check the path or export the model again`,
  );
  const missing = path.join(dir, 'nope.onnx');
  t.equal(await failure(() => modelFromFile({ path: missing })), `${missing}: does not exist; check the path`);
  t.equal(
    await failure(() => modelFromFile({ path: dir })),
    `${dir}: is a folder, not an ONNX file; give the .onnx file inside it`,
  );
});

t.test('a truncated file says how long it should be', async (t) => {
  const full = fixtureBytes();
  const half = full.subarray(0, Math.floor(full.length / 2));
  const dir = t.testdir({
    'half.onnx': Buffer.from(half),
    'cut.onnx': Buffer.from(full.subarray(0, 17)),
    'clean.onnx': Buffer.from(full.subarray(0, 19)),
  });
  const file = path.join(dir, 'half.onnx');
  // What the cut file needs is the end of the graph field, the first field the cut falls in.
  const r = new WireReader(full);
  let graphEnd = -1;
  while (graphEnd < 0) {
    const tag = r.tag();
    if (tag >>> 3 === 7) graphEnd = r.child().end;
    else r.skip(tag & 7);
  }
  t.equal(
    await failure(() => modelFromFile({ path: file })),
    `${file}: is truncated: it has ${half.length} bytes but its contents need at least ${graphEnd}; ` +
      'copy or export the file again',
  );
  t.equal(
    await failure(() => modelFromBytes({ bytes: half, file: 'half.onnx' })),
    `half.onnx: is truncated: it has ${half.length} bytes but its contents need at least ${graphEnd}; ` +
      'copy or export the file again',
  );
  // Cut inside producer_version (bytes 11..18), before the graph.
  const cut = path.join(dir, 'cut.onnx');
  t.equal(
    await failure(() => modelFromFile({ path: cut })),
    `${cut}: is truncated: it has 17 bytes but its contents need at least 19; copy or export the file again`,
  );
  // Cut exactly between two fields: the graph is simply missing.
  const clean = path.join(dir, 'clean.onnx');
  t.equal(
    await failure(() => modelFromFile({ path: clean })),
    `${clean}: has no graph, so it is not a usable ONNX model (was the file cut short?); copy or export it again`,
  );
});

t.test('IR versions outside 7..13', async (t) => {
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.irVersion = 2;
        }),
        file: 'old.onnx',
      }),
    ),
    'old.onnx: has ONNX IR version 2, but effnet-edge reads IR versions 7 to 13; re-export it with a current ' +
      'exporter (torch.onnx.export, opset 13 or later)',
  );
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.irVersion = 14;
        }),
        file: 'new.onnx',
      }),
    ),
    'new.onnx: has ONNX IR version 14, but effnet-edge reads IR versions 7 to 13; lower its ir_version to 13 ' +
      '(Python: model.ir_version = 13; onnx.save(model, path))',
  );
  for (const ir of [7, 13])
    t.ok(
      modelFromBytes({
        bytes: withChange((m) => {
          m.irVersion = ir;
        }),
        file: 'm.onnx',
      }),
      `IR ${ir}`,
    );
});

t.test('opsets outside 13..22', async (t) => {
  const fix =
    're-export with torch.onnx.export(..., opset_version=17) or convert it with ' +
    'onnx.version_converter.convert_version(model, 17)';
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.opsetImports = [{ domain: '', version: 9 }];
        }),
        file: 'm.onnx',
      }),
    ),
    `m.onnx: uses default-domain opset 9, but effnet-edge supports opsets 13 to 22; ${fix}`,
  );
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.opsetImports = [{ domain: 'ai.onnx', version: 23 }];
        }),
        file: 'm.onnx',
      }),
    ),
    `m.onnx: uses default-domain opset 23, but effnet-edge supports opsets 13 to 22; ${fix}`,
  );
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.opsetImports = [{ domain: 'com.microsoft', version: 1 }];
        }),
        file: 'm.onnx',
      }),
    ),
    'm.onnx: imports no default-domain (ai.onnx) opset; effnet-edge needs opset 13 to 22',
  );
  // Other domains alongside the default one are fine.
  t.ok(
    modelFromBytes({
      bytes: withChange((m) => {
        m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
      }),
      file: 'm.onnx',
    }),
  );
});

t.test('dangling tensor names', async (t) => {
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.graph.nodes[1]!.inputs = ['c_typo'];
        }),
        file: 'm.onnx',
      }),
    ),
    "m.onnx: node 'relu' (Relu) reads tensor 'c_typo', which no graph input, initializer or node output provides; " +
      'the graph is broken: fix the tool that wrote it',
  );
  t.equal(
    await failure(() =>
      modelFromBytes({
        bytes: withChange((m) => {
          m.graph.outputs[0]!.name = 'nowhere';
        }),
        file: 'm.onnx',
      }),
    ),
    "m.onnx: graph output 'nowhere', which no graph input, initializer or node output provides; " +
      'the graph is broken: fix the tool that wrote it',
  );
  // Order does not matter (a node may come before its producer), nor do omitted optional inputs.
  t.ok(
    modelFromBytes({
      bytes: withChange((m) => {
        m.graph.nodes.reverse();
        m.graph.nodes[0]!.inputs.push('');
      }),
      file: 'm.onnx',
    }),
  );
});

t.test('subgraphs may read names of the enclosing graph', async (t) => {
  const bytes = withChange((m) => {
    const body = {
      name: 'then',
      nodes: [{ name: 'use', opType: 'Identity', domain: '', inputs: ['r'], outputs: ['o'], attributes: {} }],
      initializers: [],
      inputs: [],
      outputs: [{ name: 'o', elemType: 1 }],
      valueInfo: [],
    };
    m.graph.inputs.push({ name: 'cond', elemType: 9, shape: [] });
    m.graph.nodes.push({
      name: 'if',
      opType: 'If',
      domain: '',
      inputs: ['cond'],
      outputs: ['z'],
      attributes: { then_branch: { type: 'graph', value: body }, else_branch: { type: 'graph', value: body } },
    });
  });
  t.ok(modelFromBytes({ bytes, file: 'm.onnx' }));
  const broken = withChange((m) => {
    m.graph.nodes.push({
      name: 'if',
      opType: 'If',
      domain: '',
      inputs: ['x'],
      outputs: ['z'],
      attributes: {
        then_branch: {
          type: 'graph',
          value: {
            name: 'then',
            nodes: [{ name: 'use', opType: 'Identity', domain: '', inputs: ['ghost'], outputs: ['o'], attributes: {} }],
            initializers: [],
            inputs: [],
            outputs: [{ name: 'o', elemType: 1 }],
            valueInfo: [],
          },
        },
      },
    });
  });
  t.equal(
    await failure(() => modelFromBytes({ bytes: broken, file: 'm.onnx' })),
    "m.onnx: node 'use' (Identity) reads tensor 'ghost', which no graph input, initializer or node output provides; " +
      'the graph is broken: fix the tool that wrote it',
  );
});

t.test('a model without a graph or ir_version', async (t) => {
  t.equal(
    await failure(() => modelFromBytes({ bytes: new Uint8Array([0x08, 0x07]), file: 'm.onnx' })),
    'm.onnx: has no graph, so it is not a usable ONNX model (was the file cut short?); copy or export it again',
  );
  t.equal(
    await failure(() => modelFromBytes({ bytes: new Uint8Array([0x3a, 0x00]), file: 'm.onnx' })),
    'm.onnx: has no ir_version field, so it is not a valid ONNX model; export it again',
  );
});

t.test('external data errors', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'm.onnx');
  await writeModelFile({ model: tinyModel(), path: file, externalData: { location: 'm.onnx.data', sizeThreshold: 0 } });

  // Truncated data file.
  const data = path.join(dir, 'm.onnx.data');
  const size = readFileSync(data).length;
  truncateSync(data, size - 4);
  t.equal(
    await failure(() => modelFromFile({ path: file })),
    `${file}: tensor 'fc.b' needs bytes ${size - 20} to ${size} of external data file 'm.onnx.data', which has ` +
      `only ${size - 4} bytes; the data file is truncated: copy it again`,
  );

  // Missing data file.
  rmSync(data);
  t.equal(
    await failure(() => modelFromFile({ path: file })),
    `${file}: tensor 'w' needs external data file 'm.onnx.data' (${data}), which does not exist; ` +
      'keep the data file next to the model',
  );
  // Not loading external data does not need the file.
  const lazy = await modelFromFile({ path: file, loadExternalData: false });
  t.equal(lazy.graph.initializers[0]!.data.length, 0);
  t.same(lazy.graph.initializers[0]!.external, { location: 'm.onnx.data', offset: 0, length: 216 });
});

t.test('external data locations that leave the folder', async (t) => {
  for (const location of ['../x.data', '/tmp/x.data', 'sub/../../x.data']) {
    const dir = t.testdir({});
    const file = path.join(dir, 'm.onnx');
    // Write a valid model, then point its first tensor elsewhere by re-encoding with an edited reference.
    await writeModelFile({
      model: tinyModel(),
      path: file,
      externalData: { location: 'm.onnx.data', sizeThreshold: 0 },
    });
    const lazy = await modelFromFile({ path: file, loadExternalData: false });
    const refs = new Map(lazy.graph.initializers.map((ti) => [ti, { ...ti.external!, location }]));
    writeFileSync(file, encodeModel(lazy, { external: refs }).concat());
    t.equal(
      await failure(() => modelFromFile({ path: file })),
      `${file}: tensor 'w' has external data location '${location}', which is outside the model's folder; ` +
        'external data must be a relative path inside the folder of the model',
      location,
    );
  }
});
