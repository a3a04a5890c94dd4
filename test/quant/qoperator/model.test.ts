/**
 * The QOperator graph (model.ort-int8.onnx) made from a bundle's Q/DQ graph: every Conv runs as ONNX Runtime's
 * QLinearConv, the logits stay close to the Q/DQ model's on the fixture's 2000 CIFAR-10 test images, the bytes are
 * deterministic, and a CPU bundle ships it. ORT sessions are few: they are slow on a shared machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { seededB0Models } from '../../../bench/seededB0.js';
import { datasetFromFolder } from '../../../calibration/images/dataset.js';
import { preloadedBatches } from '../../../calibration/images/loader.js';
import type { BundleManifest } from '../../../toolkit/bundle/manifest.js';
import { logitsOfRunner } from '../../../toolkit/eval/logits.js';
import { top1Agreement, topKAccuracy } from '../../../toolkit/eval/metrics.js';
import type { Model } from '../../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../../toolkit/onnx/write.js';
import { ortInt8BytesFor, QOperatorError, qoperatorModelFrom } from '../../../toolkit/quant/qoperator/model.js';
import { OrtRunner } from '../../../toolkit/runtime/ort.js';
import { sha256Of } from '../../../toolkit/bundle/hash.js';
import { demoBundlesBuilt } from '../../helpers/bundles.js';
import { seededInput } from '../../helpers/ort.js';
import { CIFAR_B0 } from '../../helpers/paths.js';

const bundle = join(t.testdir(), 'cpu');

/** What ONNX Runtime's optimised graph runs (op type → count), and the logits of `input` when given. */
async function optimizedRun(options: { model: Model; dir: string; input?: { data: Float32Array; dims: number[] } }) {
  const path = join(options.dir, 'optimized.onnx');
  const runner = await OrtRunner.create({ model: options.model, optimizedModelPath: path });
  const out = options.input ? await runner.run(options.input.data, options.input.dims) : null;
  await runner.close();
  const ops: Record<string, number> = {};
  for (const node of (await modelFromFile({ path })).graph.nodes) ops[node.opType] = (ops[node.opType] ?? 0) + 1;
  return { ops, logits: out?.[runner.outputNames[0]!] ?? null };
}

// One QLinear node per float op of B0 (81 Conv, 65 SiLU Sigmoid+Mul minus the 16 SE gates' Mul, 16 SE gates,
// 17 pools, 9 residual Adds), as ORT 1.30 keeps them after optimising.
const B0_OPS = {
  QuantizeLinear: 1,
  QLinearConv: 81,
  QLinearSigmoid: 65,
  QLinearMul: 65,
  QLinearGlobalAveragePool: 17,
  QLinearAdd: 9,
  Flatten: 1,
  QGemm: 1,
  Transpose: 2,
};

t.test('CIFAR-10 B0 bundle: model.ort-int8.onnx is the QOperator graph of model.int8.onnx', async (t) => {
  await demoBundlesBuilt([[bundle, '20']]);
  const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
  const shipped = readFileSync(join(bundle, 'model.ort-int8.onnx'));
  t.equal(manifest.files['model.ort-int8.onnx']?.sha256, sha256Of(shipped), 'listed in the manifest with its sha256');
  const qdq = await modelFromFile({ path: join(bundle, 'model.int8.onnx') });
  const { model, report } = qoperatorModelFrom({ model: qdq });
  t.strictSame(bytesFromModel(model), new Uint8Array(shipped), 'the same Q/DQ graph gives the same bytes');
  t.equal(
    report.summary,
    'QOperator graph: 1 Flatten, 1 QGemm, 9 QLinearAdd, 81 QLinearConv, 17 QLinearGlobalAveragePool, 65 QLinearMul, 65 QLinearSigmoid, 1 QuantizeLinear',
  );
  t.strictSame(model.graph.inputs, qdq.graph.inputs, 'same input name and shape');
  t.strictSame(model.graph.outputs, qdq.graph.outputs, 'same float logits');
  t.strictSame((await optimizedRun({ model, dir: t.testdir() })).ops, B0_OPS, 'ORT runs every op in int8');

  const dataset = await datasetFromFolder({ root: join(CIFAR_B0, 'test') });
  const { preprocessing, inputSize } = manifest;
  const batches = await preloadedBatches({ dataset, preprocessing, inputSize, batchSize: 100 });
  const labels = batches.flatMap((b) => b.items.map((i) => i.label!));
  const logitsOf = async (m: Model) => {
    const runner = await OrtRunner.create({ model: m });
    const logits = await logitsOfRunner({ runner, batches, inputSize });
    await runner.close();
    return logits;
  };
  const fp32 = await logitsOf(await modelFromFile({ path: join(bundle, 'model.fp32.onnx') }));
  const reference = await logitsOf(qdq);
  const qop = await logitsOf(model);
  const deviation = reference.data.reduce((m, v, i) => Math.max(m, Math.abs(v - qop.data[i]!)), 0);
  const agreement = top1Agreement(qop, reference);
  const accuracy = { qop: topKAccuracy(qop, labels, 1), qdq: topKAccuracy(reference, labels, 1) };
  const withFp32 = { qop: top1Agreement(qop, fp32), qdq: top1Agreement(reference, fp32) };
  t.comment(
    `agreement ${agreement} %, max deviation ${deviation}, top-1 ${JSON.stringify(accuracy)}, with fp32 ${JSON.stringify(withFp32)}`,
  );
  // Measured here (ORT 1.30, AVX-512): 88.5 % top-1 agreement with the Q/DQ model, max logit deviation 6.64 (the
  // largest logit is 11.8), top-1 59.9 % vs 60.0 %, agreement with fp32 81.9 % vs the Q/DQ model's 82.9 % (90.3 %
  // and 85.2 / 86.6 % before the calibrator choice and its scoring changed: the pin follows the 20 images'
  // ranges, not the conversion). This 20-image calibration leaves the fixture's int8 models far from fp32 and from
  // each other: one ±1 step early on (SiLU, pools) moves the SE FC1s by several; their mutual agreement cannot be
  // much above what each has with fp32. With the default build both agree with fp32 within 0.6 points. The bounds
  // that say the conversion lost nothing are the last three, relative to the Q/DQ model.
  t.ok(agreement >= 87, `top-1 agreement with the Q/DQ model ${agreement} % ≥ 87 %`);
  t.ok(deviation <= 7, `max logit deviation ${deviation} ≤ 7`);
  t.ok(Math.abs(accuracy.qop - accuracy.qdq) <= 1.5, 'top-1 within 1.5 points of the Q/DQ model');
  t.ok(withFp32.qdq - withFp32.qop <= 2, 'agrees with fp32 within 2 points of the Q/DQ model');
});

t.test('seeded B0 at 96: every Conv a QLinearConv, and ORT runs it', async (t) => {
  const { int8: qdq } = await seededB0Models({ resolution: 96, seed: 7 });
  const first = qoperatorModelFrom({ model: qdq });
  t.strictSame(bytesFromModel(qoperatorModelFrom({ model: qdq }).model), bytesFromModel(first.model), 'deterministic');
  t.equal(first.report.ops.QLinearConv, 81);
  const input = { data: seededInput(3 * 96 * 96), dims: [1, 3, 96, 96] };
  const { ops, logits } = await optimizedRun({ model: first.model, dir: t.testdir(), input });
  t.strictSame(ops, B0_OPS, 'ORT runs every op in int8');
  t.equal(logits?.length, 1000);
  t.ok(logits?.every(Number.isFinite), 'finite logits');
});

t.test('an op it cannot convert: a typed error naming the node', async (t) => {
  const qdq = await modelFromFile({ path: join(bundle, 'model.int8.onnx') });
  const nodes = qdq.graph.nodes.map((n) =>
    n.name === '/features/features.2/features.2.1/Add' ? { ...n, opType: 'Sub' } : n,
  );
  t.throws(() => qoperatorModelFrom({ model: { ...qdq, graph: { ...qdq.graph, nodes } } }), {
    name: 'QOperatorError',
    constructor: QOperatorError,
    message:
      "Sub '/features/features.2/features.2.1/Add': this operator has no QOperator conversion here; the QOperator graph (model.ort-int8.onnx) is made from the onnxruntime Q/DQ placement of EfficientNet blocks",
  });
  const warnings: string[] = [];
  const bytes = ortInt8BytesFor({
    model: { ...qdq, graph: { ...qdq.graph, nodes } },
    onWarning: (m) => warnings.push(m),
  });
  t.equal(bytes, null, 'a bundle is built without it');
  t.strictSame(warnings, [
    "model.ort-int8.onnx left out (ONNX Runtime will run the Q/DQ graph): Sub '/features/features.2/features.2.1/Add': this operator has no QOperator conversion here; the QOperator graph (model.ort-int8.onnx) is made from the onnxruntime Q/DQ placement of EfficientNet blocks",
  ]);
});
