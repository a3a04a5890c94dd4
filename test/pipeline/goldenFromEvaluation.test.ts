/**
 * The golden set takes its logits from the evaluation only where the evaluation ran the plain graphs, row for row by
 * image file, and runs its own where any image is missing.
 */
import t from 'tap';
import type { Batch } from '../../calibration/images/loader.js';
import { goldenFromEvaluation } from '../../toolkit/pipeline/build.js';

const logits = (rows: number[][]) => ({ data: Float32Array.from(rows.flat()), classes: rows[0]!.length });
const evaluated = {
  fp32: logits([
    [1, 2],
    [3, 4],
    [5, 6],
  ]),
  int8: logits([
    [-1, -2],
    [-3, -4],
    [-5, -6],
  ]),
  paths: ['/eval/a.png', '/eval/b.png', '/eval/c.png'],
};
const batch = (paths: string[]): Batch => ({
  data: new Float32Array(paths.length),
  size: paths.length,
  items: paths.map((path) => ({ path, relativePath: path.slice(6) })),
});

t.test('rows follow the golden order, across batches', async (t) => {
  const golden = goldenFromEvaluation({ evaluated, golden: [batch(['/eval/c.png']), batch(['/eval/a.png'])] });
  t.strictSame(golden, {
    fp32: logits([
      [5, 6],
      [1, 2],
    ]),
    int8: logits([
      [-5, -6],
      [-1, -2],
    ]),
  });
});

t.test('an image the evaluation lacks, or no plain logits: the golden set runs its own', async (t) => {
  t.equal(goldenFromEvaluation({ evaluated, golden: [batch(['/eval/a.png', '/other/d.png'])] }), null);
  t.equal(goldenFromEvaluation({ evaluated: undefined, golden: [batch(['/eval/a.png'])] }), null);
});
