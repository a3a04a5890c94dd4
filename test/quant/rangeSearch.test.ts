import t from 'tap';
import { join } from 'node:path';
import { datasetFromFolder } from '../../calibration/images/dataset.js';
import { batchesFromDataset, type Batch } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { defaultSearchImages, rangesSearchedFrom, searchGrid } from '../../toolkit/quant/rangeSearch.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { seededB0Models } from '../../bench/seededB0.js';
import { valueInfoMap } from '../../toolkit/onnx/shapes.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
import { BoundaryCache, imageDimsOf, segmentValues } from '../../toolkit/quant/blockCache.js';
import { blockSegmentsOf, segmentReading, suffixFrom, type SegmentSuffix } from '../../toolkit/quant/blockSegments.js';
import { candidateCosines, candidateModelFrom, candidateParameters } from '../../toolkit/quant/segmentCandidates.js';
import { seededInput } from '../helpers/ort.js';

t.test(
  'the grid starts with the calibrated range, then runs geometrically from half of it to the ceiling',
  async (t) => {
    const grid = searchGrid(2, 32, 4);
    t.equal(grid[0], 2);
    t.strictSame(
      grid.slice(1).map((v) => Number(v.toFixed(6))),
      [1, 2.378414, 5.656854, 13.454343, 32],
    );
    t.strictSame(
      searchGrid(4, 1, 2),
      [4, 2, 2 * Math.SQRT2],
      'a ceiling below the calibrated range tops out at the range',
    );
  },
);

t.test('the default image count follows a compute budget', async (t) => {
  t.equal(defaultSearchImages({ macs: 8_474_848, tensors: 114 }), 128, 'the 32×32 fixture: capped at 128');
  t.equal(defaultSearchImages({ macs: 385_814_752, tensors: 114 }), 32, 'B0 at 224');
  t.equal(defaultSearchImages({ macs: 993_561_872, tensors: 140 }), 12, 'B2 at 260');
  t.equal(defaultSearchImages({ macs: 1_830_000_000, tensors: 180 }), 8, 'B3 at 300: the floor of 8');
  t.equal(defaultSearchImages({ macs: 37_000_000_000, tensors: 385 }), 8, 'B7 at 600: the floor of 8');
});

t.test(
  'scored at the logits, an SE-scaled tensor whose percentile clips its outlier channels gets a wider range',
  async (t) => {
    const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
    const full = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'tensorrt' });
    // The input of stage 7's projection conv: 99.8 % of |x| lies below 2.0, its largest value is 51.2.
    const tensor = '/features/features.7/features.7.0/block/block.2/Mul_output_0';
    const plan = { ...full, activations: full.activations.filter((a) => a.tensor === tensor) };
    t.equal(plan.activations.length, 1);
    // The outlier channels are class-specific: the first 64 images in folder order (airplanes) trigger them.
    const calib = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
    const dataset = { ...calib, items: calib.items.slice(0, 64) };
    const batches: Batch[] = [];
    for await (const batch of batchesFromDataset({
      dataset,
      preprocessing: directPreset(),
      inputSize: 32,
      batchSize: 32,
    }))
      batches.push(batch);
    const { ranges, searched } = await rangesSearchedFrom({
      fp32,
      plan,
      ranges: new Map([[tensor, 2]]),
      ceilings: new Map([[tensor, 51.2]]),
      weightQmax: 127,
      weightFormat: 'qdq',
      batches,
      inputSize: 32,
      // The whole graph: the score is the logit cosine, as it was before the search ran blocks alone.
      window: Infinity,
    });
    t.equal(searched.length, 1);
    const [only] = searched;
    t.equal(only!.start, 2);
    t.equal(ranges.get(tensor), only!.searched);
    t.ok(only!.searched > 6 && only!.searched < 51.2, `searched range ${only!.searched.toFixed(2)}`);
    t.ok(only!.cosineStart < 0.985, `clipped at 2.0: logit cosine ${only!.cosineStart.toFixed(4)}`);
    t.ok(only!.cosineSearched > 0.998, `searched: logit cosine ${only!.cosineSearched.toFixed(4)}`);
  },
);

t.test("scoring from a tensor's suffix gives the whole segment's cosines", async (t) => {
  const { fp32, plan } = await seededB0Models({ resolution: 32, seed: 2, profile: 'onnxruntime' });
  const segments = blockSegmentsOf({ model: fp32, structure: structureOf(fp32).structure });
  const shapes = valueInfoMap(fp32);
  const initializers = new Set(fp32.graph.initializers.map((i) => i.name));
  const images = Array.from({ length: 3 }, (_, i) => seededInput(3 * 32 * 32, i + 1));
  const cache = new BoundaryCache({ model: fp32, segments, shapes, images });
  const k = segments.indexOf(segmentReading(segments, '2b.se.fc2.sigmoid')!);
  const segment = segments[k]!;
  const inputs = await cache.at(k);
  const reference = await cache.at(k + 1);
  const segmentDims = imageDimsOf(shapes, segment.input);
  // The SE gate (uint8 on this profile: a Sigmoid's zero point) and the expansion's SiLU output.
  for (const tensor of ['2b.se.fc2.sigmoid', '2b.expand_conv.silu']) {
    const point = plan.activations.find((a) => a.tensor === tensor)!;
    const candidates = [0.02, 0.1, 0.5, 4];
    const cosinesOf = async (suffix: SegmentSuffix, values: Map<string, Float32Array[]>) => {
      const sides = suffix.sides.map((name) => ({ name, values: values.get(name)!, dims: imageDimsOf(shapes, name) }));
      const runner = await OrtRunner.create({
        model: candidateModelFrom({ model: fp32, segment: suffix.piece, point, sides }),
        parameters: [...candidateParameters(point), ...suffix.sides],
        fuseQdq: false,
      });
      try {
        const dims = imageDimsOf(shapes, suffix.piece.input);
        const own = values.get(suffix.piece.input)!;
        return await candidateCosines({ runner, dims, inputs: own, sides, reference, candidates, point });
      } finally {
        await runner.close();
      }
    };
    const whole = await cosinesOf({ piece: segment, sides: [] }, new Map([[segment.input, inputs]]));
    const suffix = suffixFrom({ segment, tensor, initializers });
    t.ok(
      suffix.piece.nodes.length < segment.nodes.length,
      `${tensor}: ${suffix.piece.nodes.length} of ${segment.nodes.length} nodes`,
    );
    const values = await segmentValues({
      model: fp32,
      segment,
      inputs,
      dims: segmentDims,
      tensors: [tensor, ...suffix.sides],
    });
    const fromSuffix = await cosinesOf(suffix, values);
    t.ok(
      new Set(whole).size > 1,
      `${tensor}: the candidates score differently (${whole.map((c) => c.toFixed(5)).join(', ')})`,
    );
    const worst = Math.max(...whole.map((c, i) => Math.abs(c - fromSuffix[i]!)));
    t.ok(worst < 1e-6, `${tensor}: each candidate's cosine within 1e-6 (worst ${worst})`);
  }
});
