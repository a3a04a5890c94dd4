import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { reportPredictionsFrom, thumbnailOf } from '../../toolkit/eval/reportPredictions.js';
import { CIFAR_B0 } from '../helpers/paths.js';

const cats = readdirSync(join(CIFAR_B0, 'test', 'cat'))
  .sort()
  .slice(0, 5)
  .map((f) => ({ path: join(CIFAR_B0, 'test', 'cat', f), relativePath: `cat/${f}` }));
const logits = (rows: number[][]) => ({ data: Float32Array.from(rows.flat()), classes: rows[0]!.length });

t.test('flipped images: right→wrong, then wrong→right, then the rest, capped, with top-3 softmax', async (t) => {
  // Label 0 everywhere. Image 0 agrees; 1: wrong→right; 2: right→wrong; 3: both wrong, changed; 4: right→wrong.
  const fp32 = logits([
    [2, 0, 0, 0],
    [0, 2, 0, 0],
    [Math.log(3), 0, 0, 0],
    [0, 2, 0, 0],
    [2, 0, 0, 0],
  ]);
  const int8 = logits([
    [2, 0, 0, 0],
    [2, 0, 0, 0],
    [0, Math.log(3), 0, 0],
    [0, 0, 2, 0],
    [0, 0, 0, 2],
  ]);
  const predictions = await reportPredictionsFrom({
    fp32,
    int8,
    labels: [0, 0, 0, 0, 0],
    images: cats,
    classes: ['cat', 'dog', 'ship', 'frog'],
    maxShown: 3,
  });
  t.strictSame(predictions.fp32Top1, [0, 1, 0, 1, 0]);
  t.strictSame(predictions.int8Top1, [0, 0, 1, 2, 3]);
  t.equal(predictions.flippedTotal, 4);
  t.strictSame(
    predictions.flipped.map((f) => [f.name, f.kind]),
    [
      [cats[2]!.relativePath, 'right→wrong'],
      [cats[4]!.relativePath, 'right→wrong'],
      [cats[1]!.relativePath, 'wrong→right'],
    ],
  );
  const first = predictions.flipped[0]!;
  t.equal(first.label, 'cat');
  t.strictSame(
    first.fp32.map((s) => [s.name, Number(s.percent.toFixed(2))]),
    [
      ['cat', 50],
      ['dog', 16.67],
      ['ship', 16.67],
    ],
    'softmax of [ln 3, 0, 0, 0]: 3/6 and 1/6 each, ties in class order',
  );
  t.strictSame(first.int8[0]!.name, 'dog');
});

t.test('a thumbnail is a 64 px JPEG data: URI, enlarged from the 32 px image without smoothing', async (t) => {
  const uri = await thumbnailOf(cats[0]!.path);
  t.match(uri, /^data:image\/jpeg;base64,/);
  const bytes = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
  const meta = await sharp(bytes).metadata();
  t.strictSame([meta.format, meta.width, meta.height], ['jpeg', 64, 64]);
  t.ok(bytes.length < 4000, `${bytes.length} bytes: 48 of them keep a page small`);
  t.equal(uri, await thumbnailOf(cats[0]!.path), 'the same bytes every time');
});

t.test('without class names or labels: `class N`, and every flip is `changed`', async (t) => {
  const predictions = await reportPredictionsFrom({
    fp32: logits([[1, 0]]),
    int8: logits([[0, 1]]),
    labels: [-1],
    images: cats.slice(0, 1),
    classes: null,
  });
  t.strictSame(predictions.classes, ['class 0', 'class 1']);
  t.strictSame([predictions.flipped[0]!.kind, predictions.flipped[0]!.label], ['changed', null]);
});

t.test('an image gone since the evaluation loses its thumbnail, not the report', async (t) => {
  const predictions = await reportPredictionsFrom({
    fp32: logits([[1, 0]]),
    int8: logits([[0, 1]]),
    labels: [0],
    images: [{ path: join(t.testdir(), 'gone.jpg'), relativePath: 'cat/gone.jpg' }],
    classes: ['cat', 'dog'],
  });
  t.equal(predictions.flipped[0]!.thumbnail, null);
});
