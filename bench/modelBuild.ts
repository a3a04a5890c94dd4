/**
 * Benchmark child: build a variant's graph with seeded weights and serialise it, timing each phase. Run in its
 * own process (by bench/run.ts) so that the peak RSS it reports belongs to this work alone.
 */
import { networkConfigFrom } from '../toolkit/model/config.js';
import { weightsFromSeededInit } from '../toolkit/model/init.js';
import { onnxFromNetwork } from '../toolkit/model/onnxBuilder.js';
import { summaryFromConfig } from '../toolkit/model/summary.js';
import { bytesFromModel } from '../toolkit/onnx/write.js';

const variant = process.argv[2] ?? 'b7';
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const config = networkConfigFrom({ variant });
const weights = weightsFromSeededInit({ config, seed: 0 });
const t1 = performance.now();
const model = onnxFromNetwork({ config, weights, bnEpsilon: 1e-3, producerVersion: 'bench' });
const t2 = performance.now();
const bytes = bytesFromModel(model);
const t3 = performance.now();
process.stdout.write(
  `${JSON.stringify({
    variant,
    params: summaryFromConfig(config).params,
    initializerElements: model.graph.initializers.reduce((n, t) => n + t.data.length, 0),
    nodes: model.graph.nodes.length,
    bytes: bytes.length,
    seconds: { init: (t1 - t0) / 1000, build: (t2 - t1) / 1000, serialise: (t3 - t2) / 1000, total: (t3 - t0) / 1000 },
    rssBeforeMiB: rssBefore / 2 ** 20,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
