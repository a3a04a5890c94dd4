/** Lowering a Q/DQ graph to the engine's program: the zero points it carries, and the ones it refuses. */
import t from 'tap';
import { DataType, type Model } from '../../../toolkit/onnx/ir.js';
import { UserError } from '../../../toolkit/errors.js';
import { engineProgramFrom } from '../../../toolkit/runtime/int8/lower.js';
import { engineBytesFor } from '../../../toolkit/runtime/int8/native.js';
import { demoB0QdqModel } from '../../helpers/demoEngine.js';

const model = await demoB0QdqModel();

t.test('uint8 tensors become stored int8 zeros: z − 128 for zero point z', async (t) => {
  // Every range 6: a SiLU output and the SE-scaled tensor are uint8 over [−0.2785, 6], zero point 11 (stored −117);
  // the SE gate over [0, 6], zero point 0 (stored −128); everything else int8 with zero 0.
  const { layers } = engineProgramFrom({ model });
  const depthwise = layers.filter((l) => l.kind === 'depthwise');
  const se = layers.filter((l) => l.kind === 'se');
  const gated = layers.filter((l) => l.kind === 'conv' && l.gate);
  t.equal(depthwise.length, 16);
  t.strictSame(new Set(depthwise.map((l) => l.inputZero)), new Set([-117]), 'each depthwise reads a SiLU output');
  t.strictSame(
    se.map((l) => [l.inZero, l.fc1ActZero, l.gateZero]),
    se.map(() => [-117, -117, -128]),
    'SE: pooled SiLU output, FC1 SiLU, gate',
  );
  t.strictSame(
    gated.map((l) => (l.kind === 'conv' && l.gate ? [l.gate.inZero, l.gate.outZero, l.inputZero] : [])),
    gated.map(() => [-117, -117, -117]),
    'the gated projections: x, the product, and the conv input it is',
  );
  const first = layers[0]!;
  t.equal(first.kind === 'conv' ? first.inputZero : Number.NaN, 0, 'the stem reads the int8 image');
});

t.test('a zero point where the engine computes with zero 0 is refused, naming the tensor', async (t) => {
  const add = model.graph.nodes.find((n) => n.opType === 'Add')!;
  const q = model.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === add.outputs[0])!;
  const zeroName = q.inputs[2]!;
  const edited: Model = {
    ...model,
    graph: {
      ...model.graph,
      initializers: model.graph.initializers.map((i) =>
        i.name === zeroName ? { name: zeroName, dataType: DataType.UINT8, dims: [], data: Uint8Array.of(100) } : i,
      ),
    },
  };
  t.throws(
    () => engineBytesFor({ model: edited, source: 'edited.onnx' }),
    new UserError(
      `edited.onnx: the int8 engine cannot run this model: Add '${add.name}': the output '${q.outputs[0]}' has a zero point; the engine takes one only on what convs and the SE block read (a SiLU's output, the SE gate, the SE-scaled tensor)`,
    ),
  );
});

t.test(
  'a zero point of another type, or a DequantizeLinear that disagrees with its QuantizeLinear, is refused',
  async (t) => {
    // The first depthwise reads a SiLU output: its QuantizeLinear → DequantizeLinear pair carries a uint8 zero point.
    const dw = model.graph.nodes.find((n) => n.opType === 'Conv' && n.attributes.group)!;
    const dq = model.graph.nodes.find((n) => n.outputs[0] === dw.inputs[0])!;
    const zeroName = dq.inputs[2]!;
    const withInitializer = (name: string, replace: (t: Model['graph']['initializers'][number]) => object): Model => ({
      ...model,
      graph: {
        ...model.graph,
        initializers: model.graph.initializers.map((i) => (i.name === name ? { ...i, ...replace(i) } : i)),
      },
    });
    t.throws(
      () =>
        engineBytesFor({ model: withInitializer(zeroName, () => ({ dataType: DataType.INT16 })), source: 'm.onnx' }),
      new UserError(
        `m.onnx: the int8 engine cannot run this model: QuantizeLinear '${dq.inputs[0]!.replace(/\.quantized$/, '.quantize')}': zero point is neither int8 nor uint8`,
      ),
    );
    const otherZero: Model = {
      ...model,
      graph: {
        ...model.graph,
        nodes: model.graph.nodes.map((n) =>
          n === dq ? { ...n, inputs: [n.inputs[0]!, n.inputs[1]!, 'other.zero'] } : n,
        ),
        initializers: [
          ...model.graph.initializers,
          { name: 'other.zero', dataType: DataType.UINT8, dims: [], data: Uint8Array.of(12) },
        ],
      },
    };
    t.throws(
      () => engineBytesFor({ model: otherZero, source: 'm.onnx' }),
      new UserError(
        `m.onnx: the int8 engine cannot run this model: DequantizeLinear '${dq.name}': dequantizes with another scale or zero point than its QuantizeLinear`,
      ),
    );
  },
);
