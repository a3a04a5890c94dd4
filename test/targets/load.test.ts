import t from 'tap';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allTargets, targetNamed, targetsFolder } from '../../targets/load.js';
import { runCli } from '../helpers/cli.js';

t.test('every target file loads and validates', async (t) => {
  const targets = allTargets();
  t.strictSame(
    targets.map((x) => x.name),
    [
      'cpu-arm64',
      'cpu-x86_64',
      'jetson-agx-orin',
      'jetson-agx-xavier',
      'jetson-nano',
      'jetson-orin-nano',
      'jetson-orin-nx',
      'jetson-xavier-nx',
      'npu-generic',
    ],
  );
  const nano = targetNamed('jetson-nano');
  t.equal(nano.sm, '5.3');
  t.equal(nano.fastInt8, false);
  t.notOk(nano.precisions.includes('int8'));
  t.strictSame(targetNamed('jetson-orin-nano').dlaCores, 0);
  t.strictSame(targetNamed('jetson-agx-orin').dlaCores, 2);
  t.equal(targetNamed('jetson-xavier-nx').sm, '7.2');
  t.equal(targetNamed('cpu-x86_64').calibration.profile, 'onnxruntime');
  t.equal(targetNamed('jetson-orin-nx').calibration.profile, 'tensorrt');
  t.equal(targetNamed('npu-generic').calibration.profile, 'npu', 'NPU compilers get every op between convs int8');
  t.equal(targetNamed('jetson').name, 'jetson-orin-nano', 'jetson is an alias for the Orin Nano');
  t.strictSame(nano.tensorrt, ['8.0', '8.2'], 'JetPack 4.6 ships TensorRT 8.0.1, 4.6.1 and later 8.2.1');
  t.equal(nano.deviceSide, 'trtexec', 'JetPack 4 cannot run Node.js 20: the Nano builds its engine with trtexec');
  for (const target of targets.filter((x) => x.runtime === 'tensorrt')) {
    t.match(
      target.neverRun.join(' '),
      /nothing ran on (this board|a Nano) or on any NVIDIA GPU/,
      `${target.name} says that nothing ran on a GPU`,
    );
  }
});

t.test('an unknown target lists the valid ones', async (t) => {
  t.throws(() => targetNamed('jetson-tx2'), {
    message:
      "unknown target 'jetson-tx2'; valid targets: cpu-arm64, cpu-x86_64, jetson-agx-orin, jetson-agx-xavier, jetson-nano, jetson-orin-nano, jetson-orin-nx, jetson-xavier-nx, npu-generic, jetson (= jetson-orin-nano)",
  });
});

t.test('bad target files are errors naming the file and the key', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'jetson-orin-nano.json');
  const original = JSON.parse(
    (await import('node:fs')).readFileSync(join(targetsFolder(), 'jetson-orin-nano.json'), 'utf8'),
  );
  const write = (value: object) => writeFileSync(file, JSON.stringify(value));
  write({ ...original, colour: 'green' });
  t.throws(() => allTargets(dir), { message: `${file}: the document: unknown key 'colour'` });
  write({ ...original, deviceSide: 'ssh' });
  t.throws(() => allTargets(dir), { message: `${file}: deviceSide: expected "effnet-edge" or "trtexec", got "ssh"` });
  write({ ...original, checked: [] });
  t.throws(() => allTargets(dir), { message: `${file}: checked: expected at least 1 item, got a list of 0` });
  write({ ...original, dlaCores: -1 });
  t.throws(() => allTargets(dir), { message: `${file}: dlaCores: expected >= 0, got -1` });
  write({ ...original, sm: 87 });
  t.throws(() => allTargets(dir), { message: `${file}: sm: expected a string, got 87` });
  write({ ...original, calibration: { ...original.calibration, method: 'kl' } });
  t.throws(() => allTargets(dir), {
    message: `${file}: calibration.method: expected "auto" or "minmax" or "percentile" or "entropy" or "mse", got "kl"`,
  });
  write({ ...original, calibration: { ...original.calibration, weightGranularity: 'per-tensor' } });
  t.throws(() => allTargets(dir), {
    message: `${file}: calibration: weightGranularity is 'per-tensor', which effnet-edge does not write yet (every weight is quantized per output channel); use 'per-channel'`,
  });
  write({ ...original, name: 'orin' });
  t.throws(() => allTargets(dir), {
    message: `${file}: name: is 'orin' but the file is jetson-orin-nano.json; they must match`,
  });
  const { runtime: _r, ...missing } = original;
  write(missing);
  t.throws(() => allTargets(dir), { message: `${file}: runtime: missing; expected "tensorrt" or "onnxruntime"` });
  writeFileSync(file, '{ "name": ');
  t.throws(() => allTargets(dir), {
    message: new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`),
  });
  copyFileSync(join(targetsFolder(), 'jetson-orin-nano.json'), file);
  t.equal(allTargets(dir)[0]!.name, 'jetson-orin-nano');
});

t.test('effnet-edge targets lists them; --json for scripts', async (t) => {
  const table = await runCli(['targets']);
  t.equal(table.code, 0);
  t.match(table.stdout, /^Target +Runtime +SM +DLA +Precisions +On device +Description\n/);
  t.match(table.stdout, /\njetson-nano +TensorRT 8\.0\/8\.2 \(JetPack 4\.6\) +5\.3 +0 +fp16\* fp32 +trtexec /);
  t.match(table.stdout, /\njetson-agx-xavier +TensorRT 8\.5 \(JetPack 5\.1\) +7\.2 +2 +int8\* fp16 fp32 +effnet-edge /);
  t.match(table.stdout, /Aliases: jetson = jetson-orin-nano\n$/);
  const json = await runCli(['targets', '--json']);
  const parsed = JSON.parse(json.stdout) as { targets: { name: string }[]; aliases: Record<string, string> };
  t.equal(parsed.targets.length, 9);
  t.strictSame(parsed.aliases, { jetson: 'jetson-orin-nano' });
  const help = await runCli(['targets', '--help']);
  t.match(help.stdout, /\nExamples:\n {2}effnet-edge targets\n/);
});
