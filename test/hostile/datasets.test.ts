/**
 * Image folders that would shift labels (issue 16): a class folder that is a symlink is followed (once, loop-safe),
 * and a class left without images is refused by name instead of renumbering every class after it.
 */
import t from 'tap';
import { cpSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { datasetFromFolder } from '../../calibration/images/dataset.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const eval10 = join(REPO_ROOT, 'demo', 'cifar10-b0', 'eval');

t.test('a symlinked class folder keeps its label and the ones after it', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'images');
  mkdirSync(root);
  const elsewhere = join(dir, 'elsewhere');
  for (const name of readdirSync(eval10)) {
    if (name === 'bird') {
      cpSync(join(eval10, name), join(elsewhere, name), { recursive: true });
      symlinkSync(join(elsewhere, name), join(root, name));
    } else {
      cpSync(join(eval10, name), join(root, name), { recursive: true });
    }
  }
  const reference = await datasetFromFolder({ root: eval10 });
  const linked = await datasetFromFolder({ root });
  t.strictSame(linked.classes, reference.classes);
  t.strictSame(
    linked.items.map((i) => [i.relativePath, i.label]),
    reference.items.map((i) => [i.relativePath, i.label]),
    'every image keeps its label',
  );
  // A link back up the tree is walked once, not forever.
  symlinkSync(root, join(root, 'cat', 'loop'));
  t.equal((await datasetFromFolder({ root })).items.length, reference.items.length);
});

t.test('a class folder without images is refused, not skipped', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'images');
  cpSync(eval10, root, { recursive: true });
  mkdirSync(join(root, 'aardvark'));
  await t.rejects(datasetFromFolder({ root }), {
    message: `${join(root, 'aardvark')}: class folder with no images (looked for .jpg, .jpeg, .png, .webp, .tif, .tiff); every class needs images, or the labels of the classes after it would shift: add images or remove the folder`,
  });
  symlinkSync(join(dir, 'nowhere'), join(root, 'zebra'));
  await t.rejects(
    datasetFromFolder({ root }),
    { message: /aardvark: class folder with no images/ },
    'a dangling link is not a class, but the empty one still is',
  );
});

t.test('build reports images per class, so a class that went thin shows at once', async (t) => {
  const dir = t.testdir();
  const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
  const result = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    join(demo, 'calib'),
    '--eval',
    join(demo, 'eval'),
    '--out',
    join(dir, 'b'),
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
  ]);
  t.equal(result.code, 0, result.stderr);
  t.match(
    result.stdout,
    /\n {2}images per class \(calibration\/evaluation\): airplane 2\/8, automobile 2\/8, bird 2\/8, cat 2\/8, deer 2\/8, dog 2\/8, frog 2\/8, horse 2\/8, ship 2\/8, truck 2\/8\n/,
  );
});
