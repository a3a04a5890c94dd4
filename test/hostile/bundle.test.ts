/**
 * Hostile bundles (issue 16: "a bundle is untrusted input"). One valid bundle of the embedded demo is built once;
 * each case copies it, changes one thing the way an attacker or a broken copy would, and pins what every command
 * that reads bundles says: one line, exit 1, nothing read outside the bundle. Add a case by adding a row.
 */
import t, { type Test } from 'tap';
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Of } from '../../toolkit/bundle/hash.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const dir = t.testdir();
const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
const valid = join(dir, 'valid');

t.before(async () => {
  const built = await runCli([
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
    valid,
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
    '--quiet',
  ]);
  if (built.code !== 0) throw new Error(`the bundle the hostile cases start from did not build: ${built.stderr}`);
});

type Json = Record<string, unknown>;

/** A copy of the valid bundle with `change` applied (it gets the copy's folder). */
function mutated(name: string, change: (bundle: string) => void): string {
  const bundle = join(dir, name);
  rmSync(bundle, { recursive: true, force: true });
  cpSync(valid, bundle, { recursive: true });
  change(bundle);
  return bundle;
}

const editJson = (file: string, edit: (value: Json) => unknown) =>
  writeFileSync(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8')) as Json), null, 2));
const editManifest = (bundle: string, edit: (manifest: Json) => unknown) =>
  editJson(join(bundle, 'manifest.json'), edit);

/** Every command that reads a bundle, each on `bundle`; all must refuse it with `message` (after their own prefix). */
async function refusedEverywhere(t: Test, bundle: string, message: string): Promise<void> {
  const image = join(demo, 'eval', 'cat', '0000.jpg');
  const commands: [string, string[]][] = [
    ['inspect', ['inspect', '--bundle', bundle]],
    ['verify', ['verify', '--bundle', bundle]],
    ['run', ['run', '--bundle', bundle, image]],
    ['bench', ['bench', '--bundle', bundle, '--runs', '1', '--warmup', '0']],
    ['deploy', ['deploy', '--bundle', bundle, '--host', 'nobody@127.0.0.1:9']],
  ];
  for (const [name, argv] of commands) {
    const result = await runCli(argv);
    t.equal(result.code, 1, `${name} exits 1`);
    t.equal(result.stderr, `effnet-edge ${name}: ${message}\n`, `${name} says why`);
  }
}

const NAME_RULE =
  'expected a plain relative file name inside the bundle (letters, digits, . _ - and / between segments; no segment starting with a dot, no absolute path)';

t.test('manifest file names that leave the bundle are refused by every command that reads a manifest', async (t) => {
  for (const name of [
    '../../../.ssh/authorized_keys',
    '../../../../../../etc/hostname',
    '../../current',
    '/etc/passwd',
    'golden/../../x',
    '.hidden',
    'a\\b',
    'dir//file',
  ]) {
    const bundle = mutated('traversal', (b) =>
      editManifest(b, (m) => ({
        ...m,
        files: { ...(m.files as Json), [name]: { sha256: sha256Of(new Uint8Array(1)), size: 1 } },
      })),
    );
    await refusedEverywhere(
      t,
      bundle,
      `${join(bundle, 'manifest.json')}: files[${JSON.stringify(name)}]: ${NAME_RULE}, got ${JSON.stringify(name)}`,
    );
  }
});

t.test(
  'names that point outside through other fields: golden.index, engine.onnx, and a name the files do not list',
  async (t) => {
    const golden = mutated('golden-index', (b) =>
      editManifest(b, (m) => ({ ...m, golden: { ...(m.golden as Json), index: '../../../../../etc/passwd' } })),
    );
    await refusedEverywhere(
      t,
      golden,
      `${join(golden, 'manifest.json')}: golden.index: ${NAME_RULE}, got "../../../../../etc/passwd"`,
    );
    const unlisted = mutated('golden-unlisted', (b) =>
      editManifest(b, (m) => ({ ...m, golden: { ...(m.golden as Json), index: 'report.txt' } })),
    );
    const verify = await runCli(['verify', '--bundle', unlisted]);
    t.equal(
      verify.stderr,
      `effnet-edge verify: ${join(unlisted, 'manifest.json')}: golden.index: names 'report.txt', which the manifest's files do not list\n`,
    );
  },
);

t.test('the golden index is checked too: traversing, unlisted or inconsistent entries', async (t) => {
  const index = (b: string) => join(b, 'golden', 'golden.json');
  const traversing = mutated('golden-int8', (b) =>
    editJson(index(b), (g) => ({ ...g, files: { ...(g.files as Json), int8: '../../etc/passwd' } })),
  );
  // The index is one of the manifest's files: a changed one is a sha256 mismatch first, for the file check; its own
  // reader refuses the traversal before any read.
  const verify = await runCli(['verify', '--bundle', traversing]);
  t.equal(verify.code, 1);
  t.equal(
    verify.stderr,
    `effnet-edge verify: ${index(traversing)}: files.int8: ${NAME_RULE}, got "../../etc/passwd"\n`,
  );
  const unlisted = mutated('golden-extra', (b) => {
    writeFileSync(join(b, 'golden', 'extra.f32'), new Uint8Array(16));
    editJson(index(b), (g) => ({ ...g, files: { ...(g.files as Json), int8: 'golden/extra.f32' } }));
  });
  t.equal(
    (await runCli(['verify', '--bundle', unlisted])).stderr,
    `effnet-edge verify: ${join(unlisted, 'manifest.json')}: golden files.int8 names 'golden/extra.f32', which the manifest's files do not list; rebuild the bundle with effnet-edge build\n`,
  );
  const shape = mutated('golden-shape', (b) => editJson(index(b), (g) => ({ ...g, inputShape: [4, 3, 64, 32] })));
  t.equal(
    (await runCli(['verify', '--bundle', shape])).stderr,
    `effnet-edge verify: ${index(shape)}: inputShape is [4,3,64,32] but the manifest's inputSize is 32; rebuild the bundle\n`,
  );
  const huge = mutated('golden-huge', (b) => editJson(index(b), (g) => ({ ...g, inputShape: [4, 3, 100000, 100000] })));
  t.equal(
    (await runCli(['verify', '--bundle', huge])).stderr,
    `effnet-edge verify: ${index(huge)}: inputShape[2]: expected <= 4096, got 100000\n`,
  );
  const duplicate = mutated('golden-duplicate', (b) =>
    writeFileSync(index(b), readFileSync(index(b), 'utf8').replace('"count":', '"count": 4, "count":')),
  );
  t.equal(
    (await runCli(['verify', '--bundle', duplicate])).stderr,
    `effnet-edge verify: ${index(duplicate)}: key "count" appears twice in one object; a JSON object must name each key once\n`,
  );
});

t.test('a symlink inside the bundle is never followed', async (t) => {
  const outside = join(dir, 'secret.txt');
  writeFileSync(outside, 'root:x:0:0:root:/root:/bin/bash\n');
  const linked = mutated('symlink', (b) => {
    rmSync(join(b, 'golden', 'inputs.f32'));
    symlinkSync(outside, join(b, 'golden', 'inputs.f32'));
  });
  const inspect = await runCli(['inspect', '--bundle', linked]);
  t.equal(inspect.code, 1);
  t.match(
    inspect.stdout,
    `  FAIL golden/inputs.f32: resolves to ${outside}, outside ${linked} (through a symlink); refusing to read it\n`,
  );
  t.equal(
    inspect.stderr,
    `effnet-edge inspect: ${join(linked, 'golden/inputs.f32')}: resolves to ${outside}, outside ${linked} (through a symlink); refusing to read it; the bundle is damaged: rebuild it with effnet-edge build\n`,
  );
  const verify = await runCli(['verify', '--bundle', linked]);
  t.equal(
    verify.stderr,
    `effnet-edge verify: ${join(linked, 'manifest.json')}: bundle file 'golden/inputs.f32' resolves to ${outside}, outside ${linked} (through a symlink); refusing to read it\n`,
  );
  t.notMatch(verify.stdout + verify.stderr, /root:x:0/, 'nothing of the file outside is printed');
  const inside = mutated('symlink-inside', (b) => {
    rmSync(join(b, 'golden', 'fp32.f32'));
    symlinkSync(join(b, 'golden', 'int8.f32'), join(b, 'golden', 'fp32.f32'));
  });
  t.equal(
    (await runCli(['verify', '--bundle', inside])).stderr,
    `effnet-edge verify: ${join(inside, 'manifest.json')}: bundle file 'golden/fp32.f32' is a symlink or passes through one; bundles and models hold plain files only\n`,
  );
});

/** The manifest's thresholds with one runtime's entry changed, or removed (null). */
function runtimeEdited(m: Json, runtime: string, change: Json | null): Json {
  const thresholds = m.thresholds as Json;
  const { [runtime]: entry, ...others } = thresholds.runtimes as Json;
  return {
    ...thresholds,
    runtimes: change === null ? others : { ...others, [runtime]: { ...(entry as Json), ...change } },
  };
}

t.test('manifests that are not what the schema declares: each names the field', async (t) => {
  const cases: [string, (m: Json) => unknown, string][] = [
    [
      'null',
      () => null,
      "schema null is not 'effnet-edge/bundle@2'; rebuild the bundle with this version of effnet-edge",
    ],
    ['no-files', ({ files: _files, ...m }) => m, 'files: missing; expected an object'],
    ['no-golden', ({ golden: _golden, ...m }) => m, 'golden: missing; expected an object'],
    ['no-thresholds', ({ thresholds: _t, ...m }) => m, 'thresholds: missing; expected an object'],
    [
      'null-entry',
      (m) => ({ ...m, files: { ...(m.files as Json), 'model.fp32.onnx': null } }),
      'files["model.fp32.onnx"]: expected an object, got null',
    ],
    [
      'zero-std',
      (m) => ({ ...m, preprocessing: { ...(m.preprocessing as Json), std: [0, 0, 0] } }),
      'preprocessing.std[0]: expected > 0, got 0',
    ],
    ['negative-size', (m) => ({ ...m, inputSize: -3 }), 'inputSize: expected >= 1, got -3'],
    ['huge-input', (m) => ({ ...m, inputSize: 100000 }), 'inputSize: expected <= 4096, got 100000'],
    ['unknown-key', (m) => ({ ...m, postInstall: 'curl x | sh' }), "the document: unknown key 'postInstall'"],
    [
      'bad-threshold',
      (m) => ({ ...m, thresholds: runtimeEdited(m, 'onnxruntime', { minCosine: 'high' }) }),
      'thresholds.runtimes.onnxruntime.minCosine: expected a number, got "high"',
    ],
    [
      'negative-bound',
      (m) => ({ ...m, thresholds: runtimeEdited(m, 'native-int8', { maxLogitDeviation: -0.5 }) }),
      'thresholds.runtimes["native-int8"].maxLogitDeviation: expected >= 0, got -0.5',
    ],
    [
      'runtime-missing',
      (m) => ({ ...m, thresholds: runtimeEdited(m, 'native-int8', null) }),
      'thresholds.runtimes: has no thresholds for native-int8, which runs this bundle; rebuild the bundle with effnet-edge build',
    ],
    [
      'self-listed',
      (m) => ({
        ...m,
        files: { ...(m.files as Json), 'manifest.json': { sha256: sha256Of(new Uint8Array(1)), size: 1 } },
      }),
      'files["manifest.json"]: the manifest cannot list itself',
    ],
    [
      'case-twins',
      (m) => ({ ...m, files: { ...(m.files as Json), 'Model.FP32.onnx': (m.files as Json)['model.fp32.onnx'] } }),
      'files["Model.FP32.onnx"]: names the same file as \'model.fp32.onnx\' on a case-insensitive disk',
    ],
  ];
  for (const [name, edit, message] of cases) {
    const bundle = mutated(`schema-${name}`, (b) => editManifest(b, edit));
    const result = await runCli(['inspect', '--bundle', bundle]);
    t.equal(result.code, 1, name);
    t.equal(result.stderr, `effnet-edge inspect: ${join(bundle, 'manifest.json')}: ${message}\n`, name);
  }
  const duplicate = mutated('schema-duplicate', (b) =>
    writeFileSync(
      join(b, 'manifest.json'),
      readFileSync(join(b, 'manifest.json'), 'utf8').replace('"inputSize":', '"inputSize": 9, "inputSize":'),
    ),
  );
  t.equal(
    (await runCli(['inspect', '--bundle', duplicate])).stderr,
    `effnet-edge inspect: ${join(duplicate, 'manifest.json')}: key "inputSize" appears twice in one object; a JSON object must name each key once\n`,
  );
  const notJson = mutated('schema-not-json', (b) => writeFileSync(join(b, 'manifest.json'), '{ "schema": '));
  t.match(
    (await runCli(['inspect', '--bundle', notJson])).stderr,
    new RegExp(
      `^effnet-edge inspect: ${join(notJson, 'manifest.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\(.*\\); expected a bundle manifest written by effnet-edge build\\n$`,
    ),
  );
});
