/**
 * Outputs that would lose the user's data or time (issue 16, "data loss on the host"): a command never replaces a
 * folder that is not ours, never writes over its own input, and refuses before any work, not after calibrating.
 */
import t from 'tap';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const dir = t.testdir();
const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
const quick = ['--search-count', '0', '--calib-count', '20', '--golden', '4', '--quiet'];

/** A calibration folder whose images cannot be decoded: any build that got as far as calibrating would fail on it. */
function undecodable(): string {
  const folder = join(dir, 'garbage', 'cat');
  mkdirSync(folder, { recursive: true });
  for (const name of ['a.jpg', 'b.jpg', 'c.jpg']) writeFileSync(join(folder, name), 'not a JPEG');
  return join(dir, 'garbage');
}

t.test('--force replaces only a bundle or an empty folder, and says so before any work', async (t) => {
  const thesis = join(dir, 'thesis');
  mkdirSync(thesis);
  writeFileSync(join(thesis, 'thesis.tex'), '\\documentclass{article}');
  writeFileSync(join(thesis, 'notes.md'), '# notes');
  const result = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    undecodable(),
    '--out',
    thesis,
    '--force',
    ...quick,
  ]);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `effnet-edge build: ${thesis} holds files that are not an effnet-edge bundle (notes.md, thesis.tex); --force replaces only a bundle folder or an empty one: choose another --out\n`,
  );
  t.strictSame(readdirSync(thesis).sort(), ['notes.md', 'thesis.tex'], "the user's files are untouched");
  t.strictSame(
    readdirSync(dir).filter((f) => f.includes('partial') || f.includes('replaced')),
    [],
    'nothing left beside it',
  );

  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const onFile = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    undecodable(),
    '--out',
    file,
    '--force',
    ...quick,
  ]);
  t.equal(
    onFile.stderr,
    `effnet-edge build: ${file} is a file, not a bundle folder; --force replaces only a bundle folder or an empty one: choose another --out\n`,
  );
});

t.test('an existing output is refused before calibrating (the images here would fail to decode)', async (t) => {
  const existing = join(dir, 'existing');
  mkdirSync(existing);
  const result = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    undecodable(),
    '--out',
    existing,
    ...quick,
  ]);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `effnet-edge build: ${existing} already exists; give --force to replace it, or --out another folder\n`,
  );
});

t.test('no command writes over its own input, or into the folder it runs in', async (t) => {
  const model = join(dir, 'm.onnx');
  cpSync(join(demo, 'model.onnx'), model);
  const before = readFileSync(model);
  const quantize = await runCli(['quantize', '--model', model, '--calib', join(demo, 'calib'), '--out', model]);
  t.equal(quantize.code, 2);
  t.equal(
    quantize.stderr,
    `effnet-edge quantize: --out ${model} would overwrite --model ${model}, which this command reads; choose another --out\nRun 'effnet-edge quantize --help' for usage.\n`,
  );
  t.ok(readFileSync(model).equals(before), 'the fp32 model is untouched');
  const cache = await runCli([
    'quantize',
    '--model',
    model,
    '--calib',
    join(demo, 'calib'),
    '--out',
    join(dir, 'q.onnx'),
    '--cache',
    join(dir, 'q.onnx'),
  ]);
  t.equal(
    cache.stderr,
    `effnet-edge quantize: --out and --cache both name ${join(dir, 'q.onnx')}; give each output its own path\nRun 'effnet-edge quantize --help' for usage.\n`,
  );
  const intoCwd = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    model,
    '--calib',
    join(demo, 'calib'),
    '--out',
    REPO_ROOT,
    '--force',
    ...quick,
  ]);
  t.equal(intoCwd.code, 2);
  t.match(
    intoCwd.stderr,
    /^effnet-edge build: --out .* is the current folder or holds it; write into a new folder instead\n/,
  );
  const parent = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    model,
    '--calib',
    join(demo, 'calib'),
    '--out',
    dir,
    '--force',
    ...quick,
  ]);
  t.equal(
    parent.stderr,
    `effnet-edge build: --out ${dir} would overwrite --model ${model}, which this command reads; choose another --out\nRun 'effnet-edge build --help' for usage.\n`,
  );
  t.ok(existsSync(model));
});

t.test('the same inputs in two folders give byte-identical bundles (no path, host, user or time inside)', async (t) => {
  const copies = ['first/place', 'second'].map((where) => {
    const root = join(dir, 'copies', where);
    cpSync(demo, root, { recursive: true });
    return root;
  });
  const bundles: string[] = [];
  for (const [i, root] of copies.entries()) {
    const out = join(dir, `bundle-${i}`);
    const built = await runCli([
      'build',
      '--target',
      'jetson-orin-nano',
      '--model',
      join(root, 'model.onnx'),
      '--calib',
      join(root, 'calib'),
      '--eval',
      join(root, 'eval'),
      '--out',
      out,
      ...quick,
    ]);
    t.equal(built.code, 0, built.stderr);
    bundles.push(out);
  }
  const files = (root: string) =>
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(root, join(e.parentPath, e.name)))
      .sort();
  t.strictSame(files(bundles[1]!), files(bundles[0]!));
  for (const name of files(bundles[0]!)) {
    t.ok(
      readFileSync(join(bundles[0]!, name)).equals(readFileSync(join(bundles[1]!, name))),
      `${name} is byte-identical`,
    );
    const text = readFileSync(join(bundles[0]!, name)).toString('latin1');
    t.notOk(text.includes(dir) || text.includes(REPO_ROOT), `${name} names no folder of this machine`);
  }
});
