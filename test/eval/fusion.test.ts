/** The fusion report on EfficientNet-B0: engine layers mapped back to MBConv blocks, from names and detailed JSON. */
import t from 'tap';
import { join } from 'node:path';
import { fusionReportFrom } from '../../toolkit/eval/fusion.js';
import { consumerMap, initializerMap, producerMap } from '../../toolkit/onnx/graph.js';
import type { Model, Node } from '../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { withoutQdq } from '../../toolkit/passes/cleanup.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { detailedLayer, inspectorJsonOf, metadataOf } from '../helpers/inspector.js';
import { CIFAR_B0 } from '../helpers/paths.js';

async function b0Int8() {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const { structure } = structureOf(fp32);
  // The all-int8 SE block (npu placement; the tensorrt one leaves the SE input float): these engines' layers
  // include the SE input's dequantize, the node names most likely to be left out of a fused layer's name.
  const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'npu' });
  const int8 = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a) => [a.tensor, 4])),
    weightQmax: 127,
    weightFormat: 'qdq',
  }).model;
  return { structure, int8 };
}

t.test('fusion per block from engine layer names', async (t) => {
  const { structure, int8 } = await b0Int8();
  const [first, second] = structure.blocks;
  const siluOf = (b: typeof first) => b!.activations.find((a) => a.input === b!.depthwise.outputs[0])!;
  const layers: string[] = [];
  // Block 1 fused as TensorRT does: conv + activation in one layer, SE in two.
  const s1 = siluOf(first);
  layers.push(`${first!.depthwise.name} + PWN(${s1.sigmoid.name}, ${s1.mul.name})`);
  layers.push(`${first!.se!.pool.name} + ${first!.se!.reduce.name}`);
  layers.push(`PWN(${first!.se!.expand.name}, ${first!.se!.gate.name}) + ${first!.se!.scale.name}`);
  // Block 2 left apart, with a dequantize on its own between them.
  const s2 = siluOf(second);
  layers.push(second!.depthwise.name, s2.sigmoid.name, s2.mul.name, `${s2.output}.dequantize`);
  // The rest as one Myelin region.
  const names = int8.graph.nodes.map((n) => n.name);
  layers.push(`{ForeignNode[${names[names.indexOf(`${s2.output}.dequantize`) + 1]}...${names.at(-1)}]}`);
  const report = fusionReportFrom({
    model: int8,
    structure,
    inspectorJson: JSON.stringify({ Layers: layers, Bindings: ['input', 'logits'] }),
  });
  t.equal(report.engineLayers, layers.length);
  t.equal(report.form, 'names');
  t.strictSame(report.blocks[0], {
    block: first!.name,
    layers: 3,
    depthwiseWithSilu: true,
    seLayers: 2,
    residualWithProject: null,
  });
  t.equal(report.blocks[1]!.depthwiseWithSilu, false);
  t.ok(
    report.blocks
      .slice(2)
      .every((b) => b.layers === 1 && b.depthwiseWithSilu && b.seLayers === 1 && b.residualWithProject !== false),
    'inside the Myelin region',
  );
  t.ok(names.includes(`${s2.output}.dequantize`), 'the SE input is quantized');
  t.strictSame(report.unfusedQdq, [`${s2.output}.dequantize`]);
  t.strictSame(report.precision, { unknown: layers.length }, 'a names-only file has no formats');
  const detailed = fusionReportFrom({
    model: int8,
    structure,
    inspectorJson: JSON.stringify({ Layers: layers.map((Name) => ({ Name, LayerType: 'x' })) }),
  });
  t.strictSame(detailed.blocks, report.blocks, 'the detailed form reads the same');
  const recognised = fusionReportFrom({ model: int8, inspectorJson: JSON.stringify({ Layers: layers }) });
  t.strictSame(recognised.blocks, report.blocks, "without a structure the Q/DQ model's own is recognised");
});

/**
 * Layers the way an explicit-Q/DQ TensorRT build makes them: each group's nodes (by name, so nodes of the float view
 * do) with the DequantizeLinear nodes before them, their weights' Q/DQ and the QuantizeLinear after them; the ONNX
 * tensors at the group's edges as Inputs and Outputs.
 */
function trtLayersOf(
  model: Model,
  groups: { nodes: Node[]; name: string; type?: string; origin?: string; metadata?: boolean }[],
) {
  const producers = producerMap(model.graph);
  const consumers = consumerMap(model.graph);
  const weights = initializerMap(model.graph);
  const byName = new Map(model.graph.nodes.map((n) => [n.name, n]));
  const taken = new Set<Node>();
  return groups.map((group) => {
    const members: Node[] = [];
    const take = (n: Node | undefined) => {
      if (n && !taken.has(n)) {
        taken.add(n);
        members.push(n);
      }
    };
    for (const node of group.nodes.map((n) => byName.get(n.name)!)) {
      for (const input of node.inputs) {
        const dq = producers.get(input);
        if (dq?.opType !== 'DequantizeLinear') continue;
        const q = producers.get(dq.inputs[0]!);
        if (q?.opType === 'QuantizeLinear' && weights.has(q.inputs[0]!)) take(q);
        take(dq);
      }
      take(node);
      for (const output of node.outputs)
        for (const c of consumers.get(output) ?? []) if (c.opType === 'QuantizeLinear') take(c);
    }
    const inside = new Set(members);
    const written = new Set(members.flatMap((n) => n.outputs));
    const inputs = [...new Set(members.flatMap((n) => n.inputs))].filter(
      (i) => i !== '' && !written.has(i) && !weights.has(i),
    );
    const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
    const outputs = [...written].filter(
      (o) => graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => !inside.has(c)),
    );
    const ordered = model.graph.nodes.filter((n) => inside.has(n)).map((n) => n.name);
    return detailedLayer({
      name: group.name,
      inputs,
      outputs,
      ...(group.type ? { type: group.type } : {}),
      ...(group.origin ? { origin: group.origin } : {}),
      ...(group.metadata
        ? {
            metadata: metadataOf([
              ordered.slice(0, Math.ceil(ordered.length / 2)),
              ordered.slice(Math.ceil(ordered.length / 2)),
            ]),
          }
        : {}),
    });
  });
}

t.test('per MBConv block on B0 from detailed JSON written as TensorRT 8.6 and 10 write it', async (t) => {
  const { int8 } = await b0Int8();
  const byName = new Map(int8.graph.nodes.map((n) => [n.name, n]));
  const node = (name: string) => byName.get(name)!;
  // The structure as the report recognises it from the Q/DQ model itself: nodes of the float view, whose inputs are
  // the float weights' names.
  const { structure } = structureOf(withoutQdq(int8).model);
  const [b1a, b2a, b2b, b3a, b3b] = structure.blocks;
  const silu = (b: typeof b1a, input: string) => {
    const s = b!.activations.find((a) => a.input === input)!;
    return [s.sigmoid, s.mul];
  };
  const conv = (c: Node) => `${c.inputs[1]!} + ${c.inputs[1]!}.quantize + ${c.name}`;
  const seAct = (b: typeof b1a) => structure.silu.find((a) => a.input === b!.se!.reduce.outputs[0])!;
  const se = (b: typeof b1a) => [
    b!.se!.pool,
    b!.se!.reduce,
    seAct(b).sigmoid,
    seAct(b).mul,
    b!.se!.expand,
    b!.se!.gate,
  ];
  const stem = int8.graph.nodes.find((n) => n.opType === 'Conv')!;
  const stemSilu = int8.graph.nodes.filter((n) => n.inputs.includes(stem.outputs[0]!));
  const stemWeight = stem.inputs[1]!.replace(/\.dequantized$/, '');
  const dwSilu2a = silu(b2a, b2a!.depthwise.outputs[0]!);
  const last = int8.graph.nodes.at(-1)!;
  const groups = [
    { nodes: [node('input.quantize')], name: 'input.quantize', type: 'Reformat', origin: 'QDQ' },
    // TensorRT 8.6: weights and conv in the name, the SiLU only in the Metadata.
    { nodes: [stem, ...stemSilu], name: `${stemWeight} + ${stemWeight}.quantize + ${stem.name}`, metadata: true },
    // 1a: the dw layer's name leaves the SiLU out and there is no Metadata: only tensors tell.
    { nodes: [b1a!.depthwise, ...silu(b1a, b1a!.depthwise.outputs[0]!)], name: conv(b1a!.depthwise) },
    // TensorRT 10 Myelin: a __myl_ name and Metadata; the SE's scale runs with the projection.
    { nodes: se(b1a), name: '__myl_ReduConvSiluConvSigm_myl0_1', type: 'kgen', metadata: true },
    { nodes: [b1a!.se!.scale, b1a!.project!], name: conv(b1a!.project!) },
    // 2a left apart: expand (TensorRT 8 PWN naming), dw, its Sigmoid and Mul alone, a lone DequantizeLinear.
    {
      nodes: [b2a!.expand!, ...silu(b2a, b2a!.expand!.outputs[0]!)],
      name: `${conv(b2a!.expand!)} + PWN(${b2a!.activations[0]!.sigmoid.name}, ${b2a!.activations[0]!.mul.name})`,
    },
    { nodes: [b2a!.depthwise], name: conv(b2a!.depthwise) },
    { nodes: [dwSilu2a[0]!], name: `PWN(${dwSilu2a[0]!.name})`, type: 'PointWiseV2' },
    { nodes: [dwSilu2a[1]!], name: `PWN(${dwSilu2a[1]!.name})`, type: 'PointWiseV2' },
    {
      nodes: [node(`${dwSilu2a[1]!.outputs[0]!}.dequantize`)],
      name: `${dwSilu2a[1]!.outputs[0]!}.dequantize`,
      type: 'Reformat',
      origin: 'QDQ',
    },
    {
      nodes: [...se(b2a), b2a!.se!.scale],
      name: `{ForeignNode[${b2a!.se!.pool.name}...${b2a!.se!.scale.name}]}`,
      type: 'Myelin',
    },
    { nodes: [b2a!.project!], name: conv(b2a!.project!) },
    // 2b: the residual Add runs in the projection's layer, which names only the conv.
    { nodes: [b2b!.expand!, ...silu(b2b, b2b!.expand!.outputs[0]!)], name: b2b!.expand!.name, metadata: true },
    { nodes: [b2b!.depthwise, ...silu(b2b, b2b!.depthwise.outputs[0]!)], name: conv(b2b!.depthwise) },
    { nodes: se(b2b), name: '__myl_ReduConvSiluConvSigm_myl1_4', type: 'kgen', metadata: true },
    { nodes: [b2b!.se!.scale, b2b!.project!, b2b!.residual!.add], name: conv(b2b!.project!) },
    // 3b's Add in a layer of its own, which its Metadata tells over the Myelin range below.
    { nodes: [b3b!.residual!.add], name: '__myl_Add_myl2_0', type: 'kgen', metadata: true },
    // The rest as one Myelin region whose range starts at 3a's expand weight.
    {
      nodes: int8.graph.nodes.slice(int8.graph.nodes.indexOf(node(`${b3a!.expand!.inputs[1]!}.quantize`))),
      name: `{ForeignNode[${b3a!.expand!.inputs[1]!}...${last.name}]}`,
      type: 'Myelin',
    },
  ];
  const layers = trtLayersOf(int8, groups);
  const report = fusionReportFrom({ model: int8, inspectorJson: inspectorJsonOf(layers, ['input', 'logits']) });
  t.strictSame(report.blocks.slice(0, 5), [
    { block: '1a', layers: 3, depthwiseWithSilu: true, seLayers: 2, residualWithProject: null },
    { block: '2a', layers: 6, depthwiseWithSilu: false, seLayers: 1, residualWithProject: null },
    { block: '2b', layers: 4, depthwiseWithSilu: true, seLayers: 2, residualWithProject: true },
    { block: '3a', layers: 1, depthwiseWithSilu: true, seLayers: 1, residualWithProject: null },
    { block: '3b', layers: 2, depthwiseWithSilu: true, seLayers: 1, residualWithProject: false },
  ]);
  t.equal(report.blocks.length, 16);
  t.ok(
    report.blocks.slice(5).every((b) => b.layers === 1 && b.depthwiseWithSilu && b.residualWithProject !== false),
    'the Myelin region',
  );
  t.strictSame(
    report.layers.map((l) => l.evidence),
    [
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
    ],
  );
  t.strictSame(report.unfusedQdq, ['input.quantize', `${dwSilu2a[1]!.outputs[0]!}.dequantize`]);
  t.strictSame(report.unmappedLayers, []);
  t.strictSame(report.unownedNodes, [], 'every node of the Q/DQ model ran in some layer');
  t.strictSame(report.precision, { int8: layers.length });
  t.equal(report.devices, null);
  t.ok(
    report.layers[2]!.nodes.includes(silu(b1a, b1a!.depthwise.outputs[0]!)[1]!.name),
    'the fused SiLU recovered from tensors',
  );
});

/** The counts pinned below were measured from the files with an independent script (Python, json module). */
