import { quantSeedsWorstCase } from '../helpers/quantSeedsCase.js';

// `node dist/bench/run.js quant-seeds` measured this profile's worst over seeds 1–5 (bench/results/quant-seeds.json,
// 6 December): agreement 96.90 %, drop 0.10 points, cosine 0.9959.
quantSeedsWorstCase('tensorrt');
