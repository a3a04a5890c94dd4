import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../../calibration/images/dataset.js';
import { CIFAR_B0, FIXTURES } from '../../helpers/paths.js';

t.test('class sub-folders give sorted labels in a deterministic order', async (t) => {
  const dataset = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
  t.equal(dataset.items.length, 1000);
  t.equal(dataset.labelSource, 'folders');
  t.strictSame(dataset.classes, [
    'airplane',
    'automobile',
    'bird',
    'cat',
    'deer',
    'dog',
    'frog',
    'horse',
    'ship',
    'truck',
  ]);
  t.equal(dataset.items[0]!.relativePath, 'airplane/0023.jpg');
  t.equal(dataset.items[0]!.label, 0);
  t.equal(dataset.items[999]!.label, 9);
  const again = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
  t.strictSame(
    again.items.map((i) => i.relativePath),
    dataset.items.map((i) => i.relativePath),
  );
});

t.test('CSV labels, ImageNet class index, nested folders and other extensions', async (t) => {
  const dir = t.testdir({
    a: { 'x.PNG': 'p', deep: { 'y.webp': 'w' } },
    b: { 'z.tiff': 't', 'notes.txt': 'ignored', '.hidden.jpg': 'ignored' },
    'labels.csv': 'path,label\na/x.PNG,cat\na/deep/y.webp,dog\nb/z.tiff,cat\n',
    'bad.csv': 'a/x.PNG\n',
  });
  const folders = await datasetFromFolder({ root: dir });
  t.strictSame(
    folders.items.map((i) => `${i.relativePath}:${i.label}`),
    ['a/deep/y.webp:0', 'a/x.PNG:0', 'b/z.tiff:1'],
  );
  const csv = await datasetFromFolder({ root: dir, labels: { kind: 'csv', path: join(dir, 'labels.csv') } });
  t.strictSame(csv.classes, ['cat', 'dog']);
  t.strictSame(
    csv.items.map((i) => i.label),
    [1, 0, 0],
  );
  await t.rejects(datasetFromFolder({ root: dir, labels: { kind: 'csv', path: join(dir, 'bad.csv') } }), {
    message: `${join(dir, 'bad.csv')}: line 1: expected 'path,label', got 'a/x.PNG'`,
  });
  const imagenet = await datasetFromFolder({
    root: join(FIXTURES, 'imagenet_sample', 'images'),
    labels: { kind: 'imagenet-index', path: join(FIXTURES, 'imagenet_sample', 'imagenet_class_index.json') },
  });
  t.equal(imagenet.items.length, 16);
  t.equal(imagenet.items[0]!.label, 24, 'n01622779 great grey owl is class 24');
  t.equal(imagenet.classes![24], 'great_grey_owl');
});

t.test('missing or empty folders are named', async (t) => {
  const dir = t.testdir({ empty: {} });
  await t.rejects(datasetFromFolder({ root: join(dir, 'nope') }), {
    message: `${join(dir, 'nope')}: not a folder of images; give a folder (searched recursively for .jpg, .jpeg, .png, .webp, .tif, .tiff)`,
  });
  await t.rejects(datasetFromFolder({ root: join(dir, 'empty') }), {
    message: `${join(dir, 'empty')}: no images found (looked for .jpg, .jpeg, .png, .webp, .tif, .tiff in all sub-folders)`,
  });
});

t.test('--calib-count picks a seeded, class-balanced subset', async (t) => {
  const dataset = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
  const subset = balancedSubset({ dataset, count: 64, seed: 1 });
  t.equal(subset.items.length, 64);
  const perClass = new Array(10).fill(0);
  for (const item of subset.items) perClass[item.label!] += 1;
  t.ok(
    perClass.every((n) => n === 6 || n === 7),
    `6 or 7 per class: ${perClass.join(',')}`,
  );
  t.strictSame(balancedSubset({ dataset, count: 64, seed: 1 }).items, subset.items, 'same seed, same subset');
  t.notSame(balancedSubset({ dataset, count: 64, seed: 2 }).items, subset.items, 'another seed, another subset');
  const sorted = [...subset.items].sort((a, b) => (a.relativePath < b.relativePath ? -1 : 1));
  t.strictSame(subset.items, sorted, 'dataset order kept');
});
