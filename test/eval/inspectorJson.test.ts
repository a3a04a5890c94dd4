import t from 'tap';
import { engineLayerNames, inspectorJsonFrom } from '../../toolkit/eval/inspectorJson.js';

t.test('inspector output that is not usable is a clear error', async (t) => {
  t.throws(() => engineLayerNames('not json'), {
    message:
      'the engine inspector did not return JSON; was the engine built with profiling verbosity layer-names or detailed?',
  });
  t.throws(() => engineLayerNames('{}'), {
    message: 'the engine inspector JSON has no Layers list; rebuild the engine with --verbosity detailed',
  });
  t.throws(() => engineLayerNames('[1, 2]'), {
    message: 'the engine inspector JSON has no Layers list; rebuild the engine with --verbosity detailed',
  });
  t.throws(() => inspectorJsonFrom({ json: '<html>', file: 'layers.json' }), {
    name: 'FileFormatError',
    message: 'layers.json: is not JSON; give the file that trtexec --exportLayerInfo or the engine inspector wrote',
  });
  t.throws(() => inspectorJsonFrom({ json: '{"Layers": {}}', file: 'layers.json' }), {
    message:
      'layers.json: has no Layers list; export it with trtexec --exportLayerInfo=FILE --profilingVerbosity=detailed',
  });
});

t.test('both forms read into the same layers, unknown fields ignored', async (t) => {
  const detailed = inspectorJsonFrom({
    json: JSON.stringify({
      Layers: [
        {
          Name: 'Conv_0 + Relu_1',
          LayerType: 'SomethingNew',
          Inputs: [{ Name: 'x', 'Format/Datatype': 'Half' }],
          Outputs: [{ Name: 'r', 'Format/Datatype': 'Half' }],
          Metadata: 7,
          Novel: { deep: [1] },
        },
        {
          Name: 'QuantizeLinear_2',
          LayerType: 'Reformat',
          Origin: 'QDQ',
          TacticName: 'dla_reformat',
          Inputs: 'x',
          Outputs: [null, { Name: 'q' }],
        },
        42,
      ],
      Bindings: ['x', 3, 'r'],
      Extra: true,
    }),
  });
  t.equal(detailed.form, 'detailed');
  t.strictSame(
    detailed.layers[0],
    {
      index: 0,
      name: 'Conv_0 + Relu_1',
      type: 'SomethingNew',
      origin: null,
      tactic: null,
      metadata: null,
      inputs: [{ name: 'x', format: 'Half' }],
      outputs: [{ name: 'r', format: 'Half' }],
    },
    'a field of the wrong type reads as absent',
  );
  t.strictSame(detailed.layers[1], {
    index: 1,
    name: 'QuantizeLinear_2',
    type: 'Reformat',
    origin: 'QDQ',
    tactic: 'dla_reformat',
    metadata: null,
    inputs: [],
    outputs: [{ name: 'q', format: null }],
  });
  t.equal(detailed.layers[2]!.name, '', 'an entry that is neither a name nor an object is a layer with no name');
  t.strictSame(detailed.bindings, ['x', 'r']);
  const names = inspectorJsonFrom({ json: JSON.stringify({ Layers: ['Conv_0 + Relu_1', 'QuantizeLinear_2'] }) });
  t.equal(names.form, 'names');
  t.strictSame(names.layers[1], {
    index: 1,
    name: 'QuantizeLinear_2',
    type: null,
    origin: null,
    tactic: null,
    metadata: null,
    inputs: [],
    outputs: [],
  });
  t.strictSame(names.bindings, []);
});

t.test('only the first optimisation profile is kept', async (t) => {
  const parsed = inspectorJsonFrom({
    json: JSON.stringify({
      Layers: [
        'Conv_0',
        'Relu_1',
        'Conv_0 [profile 1]',
        'Relu_1 [profile 1]',
        'Reformatting CopyNode for Input Tensor 0 to Conv_0 [profile 2]',
      ],
      Bindings: ['x', 'y', 'x [profile 1]', 'y [profile 1]'],
    }),
  });
  t.strictSame(
    parsed.layers.map((l) => [l.index, l.name]),
    [
      [0, 'Conv_0'],
      [1, 'Relu_1'],
    ],
  );
  t.strictSame(parsed.bindings, ['x', 'y']);
  t.equal(parsed.otherProfileLayers, 3);
  t.strictSame(engineLayerNames(JSON.stringify({ Layers: ['a', 'a [profile 1]'] })), ['a']);
});
