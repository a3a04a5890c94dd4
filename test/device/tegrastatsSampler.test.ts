import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NO_RAILS_REASON, parseTegrastatsLine } from '../../toolkit/device/tegrastats.js';
import {
  startTegrastats,
  TEGRASTATS_NOT_FOUND,
  type TegrastatsSampler,
  windowPower,
} from '../../toolkit/device/tegrastatsSampler.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tegrastats');

/**
 * A folder holding a stand-in `tegrastats`: a real process that prints a recorded fixture's lines, one every
 * `--interval` ms, as the board's would, and notes its arguments and pid.
 */
function fakeTegrastats(fixture: string): { bin: string; args: string; pid: string } {
  const root = mkdtempSync(join(tmpdir(), 'effnet-tegrastats-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const args = join(root, 'args');
  const pid = join(root, 'pid');
  writeFileSync(
    join(bin, 'tegrastats'),
    `#!/bin/sh\necho "$*" > ${args}\necho $$ > ${pid}\ndelay=$(awk "BEGIN { print $2 / 1000 }")\n` +
      `while :; do while IFS= read -r line; do printf '%s\\n' "$line"; sleep "$delay"; done < ${join(FIXTURES, fixture)}; done\n`,
  );
  chmodSync(join(bin, 'tegrastats'), 0o755);
  return { bin, args, pid };
}

const withBin = (bin: string) => ({ ...process.env, PATH: `${bin}:${process.env.PATH}` });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('a running tegrastats is sampled, averaged over the window and stopped for good', async (t) => {
  const fake = fakeTegrastats('jetson-orin-nx-16gb-jetpack5.txt');
  const sampler = (await startTegrastats({ intervalMs: 50, env: withBin(fake.bin) })) as TegrastatsSampler;
  t.ok('samples' in sampler, 'it started');
  const startMs = performance.now();
  await sleep(500);
  const endMs = performance.now();
  await sampler.stop();
  t.equal(readFileSync(fake.args, 'utf8'), '--interval 50\n');
  const power = windowPower({ samples: sampler.samples, startMs, endMs });
  t.match(power, { measured: true, basis: 'VDD_IN', rails: ['VDD_IN'], meanWatts: 5.299 });
  t.ok(power.measured && power.samples >= 3, `several samples in half a second (${JSON.stringify(power)})`);
  t.notOk(alive(Number(readFileSync(fake.pid, 'utf8'))), 'tegrastats is gone after stop()');
  await sampler.stop();
  t.pass('a second stop() returns at once');
});

t.test('no tegrastats on PATH: not a Jetson, said so', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'effnet-no-tegrastats-'));
  t.same(await startTegrastats({ intervalMs: 100, env: { PATH: empty } }), { reason: TEGRASTATS_NOT_FOUND });
  t.equal(TEGRASTATS_NOT_FOUND, 'tegrastats not found: not a Jetson');
});

t.test('a tegrastats that prints no rails gives the reason instead of a figure', async (t) => {
  const fake = fakeTegrastats('jetson-tx1-l4t28.txt');
  const sampler = (await startTegrastats({ intervalMs: 50, env: withBin(fake.bin) })) as TegrastatsSampler;
  const startMs = performance.now();
  await sleep(300);
  const endMs = performance.now();
  await sampler.stop();
  t.same(windowPower({ samples: sampler.samples, startMs, endMs }), { measured: false, reason: NO_RAILS_REASON });
});

t.test('only the readings inside the window count, at their instant values', async (t) => {
  const lines = readFileSync(join(FIXTURES, 'jetson-nano-jetpack4.txt'), 'utf8').split('\n').filter(Boolean);
  const samples = lines.map((line, i) => ({ atMs: 100 * i, sample: parseTegrastatsLine(line) }));
  // Readings 1015 mW (running average 1036) at 100 ms and 1057 mW at 200 ms: (1015 + 1057) / 2.
  t.same(windowPower({ samples, startMs: 50, endMs: 250 }), {
    measured: true,
    basis: 'POM_5V_IN',
    rails: ['POM_5V_IN'],
    meanWatts: 1.036,
    samples: 2,
  });
  t.same(windowPower({ samples, startMs: 210, endMs: 1460 }), {
    measured: false,
    reason: 'tegrastats printed nothing in the 1.25 s measured: run longer (--runs)',
  });
});
