import { mkdtempSync, readFileSync } from 'node:fs';
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
import { alive, fakeTegrastats, TEGRASTATS_FIXTURES } from '../helpers/fakeTegrastats.js';

const withBin = (bin: string) => ({ ...process.env, PATH: `${bin}:${process.env.PATH}` });

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
  const lines = readFileSync(join(TEGRASTATS_FIXTURES, 'jetson-nano-jetpack4.txt'), 'utf8').split('\n').filter(Boolean);
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
