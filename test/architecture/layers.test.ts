/**
 * The import direction is enforced by dependency-cruiser (`npm run lint`, .dependency-cruiser.cjs): the tree as it
 * is passes, and an import planted against the direction fails with the rule's name.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const depcruise = join(REPO_ROOT, 'node_modules', '.bin', 'depcruise');
const cruise = (cwd: string) =>
  spawnSync(depcruise, ['toolkit', '--config', join(cwd, '.dependency-cruiser.cjs'), '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });

t.test('the repository keeps the layer order', async (t) => {
  const result = spawnSync(
    depcruise,
    ['toolkit', 'calibration', 'targets', 'bench', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  t.equal(result.status, 0, result.stdout + result.stderr);
  t.match(result.stdout, /no dependency violations found/);
});

t.test('an upward import fails the lint, named by its rule', async (t) => {
  const dir = t.testdir();
  copyFileSync(join(REPO_ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  copyFileSync(join(REPO_ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  mkdirSync(join(dir, 'toolkit', 'onnx'), { recursive: true });
  mkdirSync(join(dir, 'toolkit', 'cli'), { recursive: true });
  writeFileSync(join(dir, 'toolkit', 'cli', 'main.ts'), 'export const main = 1;\n');
  writeFileSync(
    join(dir, 'toolkit', 'onnx', 'read.ts'),
    "import { main } from '../cli/main.js';\nexport const read = main;\n",
  );
  const planted = cruise(dir);
  t.equal(planted.status, 1);
  t.match(planted.stdout, 'error no-upward-from-onnx: toolkit/onnx/read.ts → toolkit/cli/main.ts');
  writeFileSync(join(dir, 'toolkit', 'onnx', 'read.ts'), 'export const read = 1;\n');
  writeFileSync(
    join(dir, 'toolkit', 'cli', 'main.ts'),
    "import { read } from '../onnx/read.js';\nexport const main = read;\n",
  );
  t.equal(cruise(dir).status, 0, 'the same import downward is fine');
});
