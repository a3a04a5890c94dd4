import t from 'tap';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { engineLayerNames, fusionReportFrom } from '../../toolkit/eval/fusion.js';
import { CIFAR_B0 } from '../helpers/paths.js';

t.test('fusion per block from engine layer names', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const { structure } = structureOf(fp32);
  const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'tensorrt' });
  const int8 = qdqModelFrom({ model: fp32, plan, ranges: new Map(plan.activations.map((a) => [a.tensor, 4])), weightQmax: 127, weightFormat: 'qdq' }).model;
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
  const report = fusionReportFrom({ model: int8, structure, inspectorJson: JSON.stringify({ Layers: layers, Bindings: ['input', 'logits'] }) });
  t.equal(report.engineLayers, layers.length);
  t.strictSame(report.blocks[0], { block: first!.name, layers: 3, depthwiseWithSilu: true, seLayers: 2 });
  t.equal(report.blocks[1]!.depthwiseWithSilu, false);
  t.ok(report.blocks.slice(2).every((b) => b.layers === 1 && b.depthwiseWithSilu && b.seLayers === 1), 'inside the Myelin region');
  t.ok(names.includes(`${s2.output}.dequantize`), 'the SE input is quantized');
  t.strictSame(report.unfusedQdq, [`${s2.output}.dequantize`]);
  const detailed = fusionReportFrom({ model: int8, structure, inspectorJson: JSON.stringify({ Layers: layers.map((Name) => ({ Name, LayerType: 'x' })) }) });
  t.strictSame(detailed.blocks, report.blocks, 'the detailed form reads the same');
});

t.test('inspector output that is not usable is a clear error', async (t) => {
  t.throws(() => engineLayerNames('not json'), { message: 'the engine inspector did not return JSON; was the engine built with profiling verbosity layer-names or detailed?' });
  t.throws(() => engineLayerNames('{}'), { message: 'the engine inspector JSON has no Layers list; rebuild the engine with --verbosity detailed' });
});
