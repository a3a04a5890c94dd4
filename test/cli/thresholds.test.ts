/** Build → inspect → verify: each runtime's thresholds, as the manifest records them, are what both show and use. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest, RuntimeThresholds } from '../../toolkit/bundle/manifest.js';
import { int8UnavailableReason } from '../../toolkit/runtime/int8/native.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';

const dir = t.testdir();
const bundle = join(dir, 'cpu');
const engineHere = int8UnavailableReason() === null;

/** The inspect line of one runtime, from the manifest's numbers. */
function inspectLine(runtime: string, r: RuntimeThresholds): string {
  const basis =
    r.basis === 'measured'
      ? `measured at build: deviation ${r.measured.maxLogitDeviation}, agreement with int8 ${r.measured.referenceAgreement} %`
      : `estimated: ${r.why}`;
  return `     ${runtime} (${basis}): top-1 agreement with fp32 ≥ ${r.minAgreement} %, logit cosine ≥ ${r.minCosine}, top-1 ≥ ${r.minTop1} %, agreement with the recorded int8 logits ≥ ${r.minReferenceAgreement} %, max logit deviation ≤ ${r.maxLogitDeviation}`;
}

/** The TAP lines of verify's six checks: names and allowed values, nothing else. */
function tapAllowed(tap: string): string[] {
  return tap.split('\n').filter((l) => /^(not )?ok \d|^ {2}allowed:|^ {2}(runtime|basis):/.test(l));
}

function expectedTap(runtime: string, r: RuntimeThresholds): string[] {
  return [
    "ok 1 - bundle files match the manifest's sha256",
    '  allowed: 0 files differing',
    'ok 2 - top-1 agreement with build-time int8',
    `  allowed: ">= ${r.minReferenceAgreement} %"`,
    'ok 3 - top-1 agreement with build-time fp32',
    `  allowed: ">= ${r.minAgreement} %"`,
    'ok 4 - mean logit cosine with build-time fp32',
    `  allowed: ">= ${r.minCosine}"`,
    'ok 5 - top-1 accuracy on the labelled golden inputs',
    `  allowed: ">= ${r.minTop1} %"`,
    'ok 6 - max logit deviation from build-time int8',
    `  allowed: <= ${r.maxLogitDeviation}`,
    `  runtime: ${runtime}`,
    `  basis: ${r.basis}`,
  ];
}

t.test(
  'a CPU bundle: thresholds for onnxruntime, ort-int8 and native-int8, the same in the manifest, inspect and verify',
  async (t) => {
    await demoBundlesBuilt([[bundle, '32']]);
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
    const { largestLogit, runtimes } = manifest.thresholds;
    t.strictSame(Object.keys(runtimes), ['onnxruntime', 'ort-int8', 'native-int8']);
    const ort = runtimes.onnxruntime!;
    const ortInt8 = runtimes['ort-int8']!;
    const native = runtimes['native-int8']!;
    // ONNX Runtime made the reference here: it measures 0 and gets the floor, 5 % of the largest logit, rounded up.
    t.equal(ort.basis === 'measured' && ort.measured.maxLogitDeviation, 0);
    t.equal(ort.maxLogitDeviation, Math.ceil(0.05 * largestLogit * 100) / 100);
    if (engineHere && native.basis === 'measured') {
      const doubled = Math.max(2 * native.measured.maxLogitDeviation, 0.05 * largestLogit);
      t.equal(native.maxLogitDeviation, Math.ceil(doubled * 100 - 1e-9) / 100, 'twice the measured deviation');
    } else t.equal(native.basis, 'estimated', 'no engine here: estimated, with the reason');

    const inspect = await runCli(['inspect', '--bundle', bundle]);
    t.equal(inspect.code, 0, inspect.stderr);
    const lines = inspect.stdout.split('\n');
    const step = lines.indexOf(
      "  3. run the 32-image golden set on the device's runtime against the thresholds the build recorded for it:",
    );
    t.not(step, -1, inspect.stdout);
    t.strictSame(lines.slice(step + 1, step + 4), [
      inspectLine('onnxruntime', ort),
      inspectLine('ort-int8', ortInt8),
      inspectLine('native-int8', native),
    ]);
    const json = JSON.parse((await runCli(['inspect', '--bundle', bundle, '--json'])).stdout);
    t.strictSame(json.manifest.thresholds, manifest.thresholds);
    t.strictSame(json.bounds.onnxruntime, [
      { metric: 'referenceAgreement', min: ort.minReferenceAgreement, unit: '%' },
      { metric: 'agreement', min: ort.minAgreement, unit: '%' },
      { metric: 'cosine', min: ort.minCosine, unit: null },
      { metric: 'top1', min: ort.minTop1, unit: '%' },
      { metric: 'logitDeviation', max: ort.maxLogitDeviation, unit: null },
    ]);
    t.strictSame(Object.keys(json.bounds), ['onnxruntime', 'ort-int8', 'native-int8'], 'every runtime, as numbers');
    t.strictSame(json.steps.slice(3, 6), [
      inspectLine('onnxruntime', ort).slice(3),
      inspectLine('ort-int8', ortInt8).slice(3),
      inspectLine('native-int8', native).slice(3),
    ]);

    const onOrt = await runCli(['verify', '--bundle', bundle, '--runtime', 'onnxruntime', '--tap']);
    t.equal(onOrt.code, 0, onOrt.stdout);
    t.strictSame(tapAllowed(onOrt.stdout), expectedTap('onnxruntime', ort));
    // The QOperator graph always runs here (ONNX Runtime), so its bounds are measured like the engine's.
    t.equal(ortInt8.basis, 'measured');
    const onOrtInt8 = await runCli(['verify', '--bundle', bundle, '--runtime', 'ort-int8', '--tap']);
    t.equal(onOrtInt8.code, 0, onOrtInt8.stdout);
    t.strictSame(tapAllowed(onOrtInt8.stdout), expectedTap('ort-int8', ortInt8));
    if (!engineHere) return;
    const onNative = await runCli(['verify', '--bundle', bundle, '--runtime', 'native-int8', '--tap']);
    t.equal(onNative.code, 0, onNative.stdout);
    t.strictSame(tapAllowed(onNative.stdout), expectedTap('native-int8', native));
    t.match(onNative.stdout, `  measured: ${native.basis === 'measured' ? native.measured.maxLogitDeviation : ''}`);
  },
);

/** Well-formed XML: xmllint where it is installed, else a strict enough reading of what junitFrom writes. */
function xmlProblem(file: string): string | null {
  const lint = spawnSync('xmllint', ['--noout', file], { encoding: 'utf8' });
  if (!lint.error) return lint.status === 0 ? null : lint.stderr;
  const open: string[] = [];
  const body = readFileSync(file, 'utf8').replace(/^<\?xml [^>]*\?>\n/, '');
  for (const [tag, close, name, rest] of body.matchAll(/<(\/?)([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*\s*\/?)>/g)) {
    if (close) {
      if (open.pop() !== name) return `</${name}> closes nothing open: ${tag}`;
    } else if (!rest!.endsWith('/')) open.push(name!);
  }
  if (open.length) return `never closed: ${open.join(', ')}`;
  return /&(?!(amp|lt|gt|quot|apos);)/.test(body) ? 'an unescaped &' : null;
}

t.test('verify --json gives each bound as numbers; --junit times the checks that do work', async (t) => {
  const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
  const r = manifest.thresholds.runtimes.onnxruntime!;
  const junit = join(dir, 'verify.xml');
  const result = await runCli(['verify', '--bundle', bundle, '--runtime', 'onnxruntime', '--json', '--junit', junit]);
  t.equal(result.code, 0, result.stderr);
  const checks = (JSON.parse(result.stdout) as { checks: { allowed: string; bound: unknown }[] }).checks;
  t.strictSame(
    checks.map((c) => [c.allowed, c.bound]),
    [
      ['0 files differing', { metric: 'filesDiffering', max: 0, unit: 'files' }],
      [`>= ${r.minReferenceAgreement} %`, { metric: 'referenceAgreement', min: r.minReferenceAgreement, unit: '%' }],
      [`>= ${r.minAgreement} %`, { metric: 'agreement', min: r.minAgreement, unit: '%' }],
      [`>= ${r.minCosine}`, { metric: 'cosine', min: r.minCosine, unit: null }],
      [`>= ${r.minTop1} %`, { metric: 'top1', min: r.minTop1, unit: '%' }],
      [`<= ${r.maxLogitDeviation}`, { metric: 'logitDeviation', max: r.maxLogitDeviation, unit: null }],
    ],
    'the text as before, the same bound as numbers',
  );
  t.equal(xmlProblem(junit), null, 'well-formed XML');
  const xml = readFileSync(junit, 'utf8');
  const times = [...xml.matchAll(/<testcase name="([^"]+)" classname="effnet-edge\.verify" time="(\d+\.\d{3})"/g)];
  t.equal(times.length, 6);
  const seconds = new Map(times.map(([, name, time]) => [name!.replace(/&apos;/g, "'"), Number(time)]));
  t.ok(seconds.get("bundle files match the manifest's sha256")! > 0, 'hashing the files takes time');
  t.ok(seconds.get('top-1 agreement with build-time int8')! > 0, 'the first check that reads the logits takes the run');
  const total = Number(/<testsuite [^>]* time="(\d+\.\d{3})"/.exec(xml)![1]);
  const sum = [...seconds.values()].reduce((a, b) => a + b, 0);
  t.ok(Math.abs(total - sum) < 0.004, `the suite's time is its cases' (${total} vs ${sum})`);
});
