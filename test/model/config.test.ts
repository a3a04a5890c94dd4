import t from 'tap';
import { networkConfigFrom } from '../../toolkit/model/config.js';
import { layerTableFrom } from '../../toolkit/model/layers.js';
import { summaryFromConfig } from '../../toolkit/model/summary.js';

t.test('b0 blocks follow the seed', async (t) => {
  const config = networkConfigFrom({ variant: 'b0' });
  t.strictSame(
    config.blocks.map((b) => b.index),
    ['1a', '2a', '2b', '3a', '3b', '4a', '4b', '4c', '5a', '5b', '5c', '6a', '6b', '6c', '6d', '7a'],
  );
  const [b1a, b2a, b2b] = config.blocks;
  t.match(b1a, {
    inChannels: 32,
    expandedChannels: 32,
    outChannels: 16,
    squeezeChannels: 8,
    hasExpand: false,
    hasSkip: false,
    stride: 1,
    kernel: 3,
  });
  t.match(b2a, {
    inChannels: 16,
    expandedChannels: 96,
    outChannels: 24,
    squeezeChannels: 4,
    hasExpand: true,
    hasSkip: false,
    stride: 2,
  });
  t.match(b2b, {
    inChannels: 24,
    expandedChannels: 144,
    outChannels: 24,
    squeezeChannels: 6,
    hasExpand: true,
    hasSkip: true,
    stride: 1,
  });
  t.strictSame(
    config.blocks.map((b) => b.dropConnectRate),
    config.blocks.map((_, i) => (0.2 * i) / 16),
    'stochastic depth 0.2 × block index / blocks',
  );
  t.equal(config.stemChannels, 32);
  t.equal(config.topChannels, 1280);
});

t.test('b7 has 55 blocks with letters up to m', async (t) => {
  const config = networkConfigFrom({ variant: 'b7' });
  t.equal(config.blocks.length, 55);
  t.equal(config.blocks.filter((b) => b.stage === 6).at(-1)!.index, '6m');
});

t.test('the layer table names every layer as the seed does', async (t) => {
  const layers = layerTableFrom(networkConfigFrom({ variant: 'b0' }));
  t.strictSame(
    layers.slice(0, 9).map((l) => `${l.name}:${l.kind}`),
    [
      'stem_conv:conv',
      '1a.dwconv:depthwise',
      '1a.se.fc1:se-reduce',
      '1a.se.fc2:se-expand',
      '1a.project_conv:pointwise-project',
      '2a.expand_conv:pointwise-expand',
      '2a.dwconv:depthwise',
      '2a.se.fc1:se-reduce',
      '2a.se.fc2:se-expand',
    ],
  );
  t.strictSame(
    layers.slice(-2).map((l) => l.name),
    ['top', 'fc'],
  );
  const dw = layers.find((l) => l.name === '2a.dwconv')!;
  t.match(dw, {
    inChannels: 96,
    outChannels: 96,
    kernel: 3,
    stride: 2,
    groups: 96,
    inSize: 112,
    outSize: 56,
    params: 96 * 9 + 192,
    macs: 96 * 9 * 56 * 56,
    seedFormulaFlops: 96 * 9 * 96 * 56 * 56,
  });
  const fc1 = layers.find((l) => l.name === '2a.se.fc1')!;
  t.match(fc1, { inChannels: 96, outChannels: 4, params: 96 * 4 + 4, macs: 384 });
  t.match(layers.at(-1), { kind: 'linear', inChannels: 1280, outChannels: 1000, params: 1281000, macs: 1280000 });
});

t.test('custom width, depth, resolution and classes', async (t) => {
  const config = networkConfigFrom({ widthCoefficient: 1.3, depthCoefficient: 1.5, resolution: 256, numClasses: 10 });
  t.equal(config.name, 'custom');
  t.equal(config.stemChannels, 40, '32 × 1.3 = 41.6 → 40');
  t.equal(config.blocks.length, 2 + 3 + 3 + 5 + 5 + 6 + 2);
  const summary = summaryFromConfig(config);
  t.equal(summary.numClasses, 10);
  t.equal(summary.resolution, 256);
  t.equal(summary.layers[0]!.outSize, 128);
  t.equal(
    summaryFromConfig(networkConfigFrom({ variant: 'b0', resolution: 32 })).layers.at(-2)!.outSize,
    1,
    'b0 at 32×32 ends at 1×1 like the CIFAR fixture',
  );
  t.equal(networkConfigFrom({ variant: 'b0', resolution: 240 }).name, 'b0', 'resolution alone keeps the variant name');
});

t.test('bad network options are usage errors naming the value', async (t) => {
  // A FieldError (a UsageError) naming the library's field; the CLI prints the message as it is.
  t.throws(() => networkConfigFrom({ variant: 'b9' }), {
    name: 'FieldError',
    field: 'variant',
    value: 'b9',
    message: "unknown variant 'b9': expected one of b0, b1, b2, b3, b4, b5, b6, b7",
  });
  t.throws(() => networkConfigFrom({ variant: 'b0', resolution: 0 }), {
    message: 'resolution must be a positive integer, got 0',
  });
  t.throws(() => networkConfigFrom({ variant: 'b0', numClasses: 2.5 }), {
    field: 'numClasses',
    message: 'num-classes must be a positive integer, got 2.5',
  });
  t.throws(() => networkConfigFrom({ widthCoefficient: 1.2 }), {
    message: 'a custom network needs width, depth and resolution (or name a variant such as b0)',
  });
});
