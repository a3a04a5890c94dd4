import t from 'tap';
import { join } from 'node:path';
import { datasetFromFolder, type Dataset } from '../../../calibration/images/dataset.js';
import { checkCountFor, fitCheckSplit } from '../../../calibration/images/split.js';
import { CIFAR_B0 } from '../../helpers/paths.js';

t.test('check images: max(16, 25 %), at most 128 and at most half; none below 4 images', async (t) => {
  t.strictSame([1, 3, 4, 13, 32, 64, 100, 512, 600, 1000].map(checkCountFor), [0, 0, 2, 6, 16, 16, 25, 128, 128, 128]);
});

const paths = (dataset: Dataset) => dataset.items.map((i) => i.relativePath);

t.test('the split is by file: disjoint, complete, class-balanced and independent of listing order', async (t) => {
  const dataset = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
  const { fit, check } = fitCheckSplit({ dataset });
  t.equal(check.items.length, 128);
  t.equal(fit.items.length, 872);
  t.strictSame([...paths(fit), ...paths(check)].sort(), paths(dataset).slice().sort(), 'every image once');
  const perClass = (d: Dataset) => d.classes!.map((_, label) => d.items.filter((i) => i.label === label).length);
  t.strictSame(perClass(check), [13, 13, 13, 13, 13, 13, 13, 13, 12, 12], 'classes take turns');
  t.strictSame(paths(check).slice(0, 3), ['airplane/0023.jpg', 'airplane/0065.jpg', 'airplane/0084.jpg']);
  const reversed = fitCheckSplit({ dataset: { ...dataset, items: [...dataset.items].reverse() } });
  t.strictSame(paths(reversed.check).sort(), paths(check).sort(), 'the same check images, listed backwards');
  // Dropping images that were fit images leaves the check images as they were (small sets aside, where the size
  // changes): a file's side depends on its own name.
  const fewer = {
    ...dataset,
    items: dataset.items.filter((i, n) => n % 2 === 0 || paths(check).includes(i.relativePath)),
  };
  t.strictSame(paths(fitCheckSplit({ dataset: fewer }).check), paths(check));
  const reseeded = fitCheckSplit({ dataset, seed: 20 });
  t.not(paths(reseeded.check).join(), paths(check).join(), 'another seed, another split');
});
