/**
 * `status` over a fleet of two real sshd "devices" on 127.0.0.1 (each with its own $HOME, so its own release area,
 * written here with the real remote layout instead of a deploy) and one closed port: the JSON, the text table and
 * the HTML page, a `verify --host` that leaves its verdict in the device's log, and the exit codes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { DeviceStatus } from '../../toolkit/deploy/fleetStatus.js';
import { osFrom } from '../../toolkit/deploy/prerequisites.js';
import { statusHtml } from '../../toolkit/cli/statusHtml.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { remoteCli } from '../helpers/deployDevice.js';
import { freePort, sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const devices: Sshd[] = [];
let closedPort = 0;
const areaOf = (i: number) => join(dir, `sshd-${i}`, 'device-home', '.effnet-edge');
const SHA = "bundle files match the manifest's sha256";
const TOP1 = 'top-1 accuracy on the labelled golden inputs';
const AGREEMENT = 'top-1 agreement with build-time fp32';

function deployedLine(release: string, previous: string | null, time: string, top1: number, agreement: number) {
  const verify = {
    runtime: 'native-int8',
    passed: 3,
    failed: 0,
    measured: { [SHA]: 0, [AGREEMENT]: agreement, [TOP1]: top1 },
  };
  return {
    event: 'deployed',
    release,
    previous,
    time,
    target: 'cpu-x86',
    toolkitVersion: '0.1.0',
    verify,
    engineKey: null,
  };
}

/** A release area as deploy leaves it: release folders with their manifest, `current`, and the log. */
function releaseArea(i: number, releases: string[], log: object[]): void {
  const manifest = { thresholds: { runtimes: { 'native-int8': { minTop1: 55, minAgreement: 85 } } } };
  for (const id of releases) {
    mkdirSync(join(areaOf(i), 'releases', id), { recursive: true });
    writeFileSync(join(areaOf(i), 'releases', id, 'manifest.json'), JSON.stringify(manifest));
  }
  symlinkSync(join('releases', releases.at(-1)!), join(areaOf(i), 'current'));
  writeFileSync(join(areaOf(i), 'releases.log'), log.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

t.before(async () => {
  if (skip) return;
  for (let i = 0; i < 2; i++) devices.push(await startSshd({ dir: join(dir, `sshd-${i}`) }));
  writeFileSync(join(dir, 'sshd-1', 'authorized_keys'), readFileSync(`${devices[0]!.clientKey}.pub`));
  writeFileSync(devices[0]!.knownHosts, devices.map((d) => readFileSync(d.knownHosts, 'utf8')).join(''));
  closedPort = await freePort();
  releaseArea(
    0,
    ['rel-a', 'rel-b'],
    [
      deployedLine('rel-a', null, '2026-12-01T10:00:00.000Z', 60, 90),
      deployedLine('rel-b', 'rel-a', '2026-12-02T10:00:00.000Z', 62.5, 92.5),
    ],
  );
  releaseArea(1, ['rel-c'], [deployedLine('rel-c', null, '2026-12-03T10:00:00.000Z', 58, 86)]);
  writeFileSync(
    join(dir, 'fleet.ini'),
    [
      '[edge]',
      `dev0 ansible_host=127.0.0.1 ansible_port=${devices[0]!.port} ansible_user=root`,
      `dev1 ansible_host=127.0.0.1 ansible_port=${devices[1]!.port} ansible_user=root`,
      `gone ansible_host=127.0.0.1 ansible_port=${closedPort} ansible_user=root`,
      '',
    ].join('\n'),
  );
});
t.teardown(async () => {
  for (const d of devices) await d.stop();
});

const sshArgs = () => [
  '--identity',
  devices[0]!.clientKey,
  '--known-hosts',
  devices[0]!.knownHosts,
  '--remote-cli',
  remoteCli,
  '--connect-timeout',
  '5',
  '--retries',
  '1',
];

/** What `status --json` says of a device written by `releaseArea`, the numbers that vary with the machine masked. */
function expectedHost(options: {
  port: number;
  area: number;
  current: string;
  deployedAt: string;
  accuracy: [number, number];
  lastVerify: object;
  releases: object[];
}) {
  const [top1, agreement] = options.accuracy;
  return {
    host: `root@127.0.0.1:${options.port}`,
    reachable: true,
    error: null,
    root: areaOf(options.area),
    current: options.current,
    target: 'cpu-x86',
    deployedAt: options.deployedAt,
    toolkitVersion: '0.1.0',
    runtime: 'native-int8',
    platform: {
      os: osFrom(readFileSync('/etc/os-release', 'utf8')),
      machine: execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim(),
      l4t: null,
      jetpack: null,
      tensorrt: null,
      tensorrtAtDeploy: null,
    },
    accuracy: { top1, minTop1: 55, agreement, minAgreement: 85 },
    checksAtDeploy: [
      { check: SHA, result: 'pass', measured: 0 },
      { check: AGREEMENT, result: 'pass', measured: agreement },
      { check: TOP1, result: 'pass', measured: top1 },
    ],
    lastVerify: options.lastVerify,
    disk: { path: areaOf(options.area), freeBytes: 1, totalBytes: 2 },
    engineKey: null,
    releases: options.releases,
  };
}

const row = (release: string, time: string, top1: number, agreement: number) => ({
  release,
  lastEvent: 'deployed',
  time,
  onDevice: true,
  deployedAt: time,
  top1,
  agreement,
  reason: null,
});

/** `verify --host` on device 1, then `status --json --html` of the fleet: what the first tests read. */
let fleet: { verify: CliResult; status: CliResult; page: string } | null = null;
async function fleetRun() {
  if (fleet) return fleet;
  const [, p1] = devices.map((d) => d.port);
  // rel-c's manifest is no bundle's: the device's verify fails before any check, and the log says so.
  const verify = await runCli(['verify', '--host', `root@127.0.0.1:${p1}`, ...sshArgs()]);
  const page = join(dir, 'fleet.html');
  const inventory = join(dir, 'fleet.ini');
  const status = await runCli(['status', '--inventory', inventory, ...sshArgs(), '--json', '--html', page]);
  fleet = { verify, status, page };
  return fleet;
}

t.test('verify --host leaves its verdict in the device log', { skip: skip ?? false }, async (t) => {
  const { verify } = await fleetRun();
  t.equal(verify.code, 1, verify.stderr);
  t.match(verify.stderr, /verify printed no TAP \(exit 1\)/);
  const log = readFileSync(join(areaOf(1), 'releases.log'), 'utf8')
    .trim()
    .split('\n');
  t.match(JSON.parse(log.at(-1)!), {
    event: 'verified',
    release: 'rel-c',
    target: 'cpu-x86',
    verify: { runtime: 'auto', passed: 0, failed: 0, measured: {}, failing: [] },
    reason: /^verify printed no TAP/,
  });
});

t.test('status --json: every device, numbers as numbers', { skip: skip ?? false }, async (t) => {
  const { status } = await fleetRun();
  const [p0, p1] = devices.map((d) => d.port);
  t.equal(status.code, 0, 'one unreachable device of three is reported, not a failure');
  const hosts = (JSON.parse(status.stdout) as { hosts: DeviceStatus[] }).hosts;
  const verified = hosts[1]!.lastVerify!;
  t.match(verified.time, /^\d{4}-\d\d-\d\dT/);
  t.match(verified.reason, /^verify printed no TAP \(exit 1\): .*schema/);
  for (const h of hosts.slice(0, 2)) {
    t.ok(h.disk!.freeBytes > 0 && h.disk!.totalBytes >= h.disk!.freeBytes, 'df read as numbers');
    h.disk = { ...h.disk!, freeBytes: 1, totalBytes: 2 };
  }
  verified.time = 'T';
  verified.reason = 'R';
  Object.assign(hosts[1]!.releases[0]!, { time: 'T', reason: 'R' });
  t.strictSame(hosts, [
    expectedHost({
      port: p0!,
      area: 0,
      current: 'rel-b',
      deployedAt: '2026-12-02T10:00:00.000Z',
      accuracy: [62.5, 92.5],
      lastVerify: {
        time: '2026-12-02T10:00:00.000Z',
        release: 'rel-b',
        reason: null,
        by: 'deploy',
        runtime: 'native-int8',
        result: 'pass',
        passed: 3,
        failed: 0,
        failing: [],
      },
      releases: [
        row('rel-b', '2026-12-02T10:00:00.000Z', 62.5, 92.5),
        row('rel-a', '2026-12-01T10:00:00.000Z', 60, 90),
      ],
    }),
    expectedHost({
      port: p1!,
      area: 1,
      current: 'rel-c',
      deployedAt: '2026-12-03T10:00:00.000Z',
      accuracy: [58, 86],
      lastVerify: {
        time: 'T',
        release: 'rel-c',
        reason: 'R',
        by: 'verify',
        runtime: 'auto',
        result: 'fail',
        passed: 0,
        failed: 0,
        failing: [],
      },
      releases: [
        { ...row('rel-c', '2026-12-03T10:00:00.000Z', 58, 86), lastEvent: 'verified', time: 'T', reason: 'R' },
      ],
    }),
    hosts[2],
  ]);
  t.match(hosts[2], { host: `root@127.0.0.1:${closedPort}`, reachable: false, current: null, releases: [] });
  t.equal(hosts[2]!.error, 'cannot connect (ECONNREFUSED)');
});

t.test(
  'status --html: one page, a coloured section per device, a point per release',
  { skip: skip ?? false },
  async (t) => {
    const { status, page } = await fleetRun();
    const [p0, p1] = devices.map((d) => d.port);
    // The page: the same bytes from the same statuses, a coloured section per device, one plot with a point per release.
    const html = readFileSync(page, 'utf8');
    t.equal(html, statusHtml((JSON.parse(status.stdout) as { hosts: DeviceStatus[] }).hosts));
    t.strictSame(
      [...html.matchAll(/<section class="device (\w+)">\n<h2>.*?<\/span>([^<]+) <span class="badge">([^<]+)</g)].map(
        (m) => [m[1], m[2], m[3]],
      ),
      [
        ['pass', `root@127.0.0.1:${p0}`, 'last verify passed'],
        ['fail', `root@127.0.0.1:${p1}`, 'last verify failed'],
        ['unreachable', `root@127.0.0.1:${closedPort}`, 'unreachable'],
      ],
    );
    t.match(
      html,
      /section\.device\.pass \{ border-left-color: #1e8e3e; \}\nsection\.device\.fail \{ border-left-color: #d93025; \}/,
    );
    t.match(html, '<tr><th>top-1 at deploy</th><td class="good">62.50 % (min 55 %)</td></tr>');
    t.match(html, '<tr><th>reason</th><td>cannot connect (ECONNREFUSED)</td></tr>');
    t.equal(html.match(/<svg /g)?.length, 1);
    const points = [...html.matchAll(/<(circle|rect) class="point (\w+)".*?<title>([^<]+)<\/title>/g)].map((m) => [
      m[1],
      m[3],
    ]);
    t.strictSame(points, [
      ['circle', `root@127.0.0.1:${p0} · rel-b · top-1 62.50 % · deployed 2026-12-02T10:00:00.000Z`],
      ['rect', `root@127.0.0.1:${p0} · rel-b · agreement 92.50 % · deployed 2026-12-02T10:00:00.000Z`],
      ['circle', `root@127.0.0.1:${p0} · rel-a · top-1 60.00 % · deployed 2026-12-01T10:00:00.000Z`],
      ['rect', `root@127.0.0.1:${p0} · rel-a · agreement 90.00 % · deployed 2026-12-01T10:00:00.000Z`],
      ['circle', `root@127.0.0.1:${p1} · rel-c · top-1 58.00 % · deployed 2026-12-03T10:00:00.000Z`],
      ['rect', `root@127.0.0.1:${p1} · rel-c · agreement 86.00 % · deployed 2026-12-03T10:00:00.000Z`],
    ]);
    t.match(html, '>deploy time (UTC)</text>');
    t.match(html, '>accuracy at deploy (%)</text>');
    t.notMatch(html, /<script|<link|@import|url\(|@font-face/, 'nothing fetched');
  },
);

t.test('the text table, checks in words', { skip: skip ?? false }, async (t) => {
  const [p0, p1] = devices.map((d) => d.port);
  const status = await runCli(['status', '--inventory', join(dir, 'fleet.ini'), ...sshArgs()]);
  t.equal(status.code, 0, status.stderr);
  const text = status.stdout.replace(/2026-12-0[4-9]T[\d:.]+Z/g, 'NOW');
  // Cells as the table aligns them (two spaces or more apart); free disk depends on the machine.
  const cells = text
    .split('\n')
    .slice(0, 4)
    .map((l) => l.split(/ {2,}/).map((c) => c.replace(/^\d+\.\d GB$/, 'N GB')));
  t.strictSame(cells, [
    [
      'host',
      'state',
      'current',
      'verified on',
      'JetPack',
      'TensorRT',
      'top-1',
      'agreement',
      'last verify',
      'free disk',
    ],
    [
      `root@127.0.0.1:${p0}`,
      'pass',
      'rel-b',
      'native-int8',
      'none',
      'none',
      '62.50 %',
      '92.50 %',
      'pass 2026-12-02T10:00:00.000Z',
      'N GB',
    ],
    [`root@127.0.0.1:${p1}`, 'fail', 'rel-c', 'native-int8', 'none', 'none', '58.00 %', '86.00 %', 'fail NOW', 'N GB'],
    [`root@127.0.0.1:${closedPort}`, 'unreachable', '-', '-', '-', '-', '-', '-', '-', '-'],
  ]);
  const [header, first] = text.split('\n');
  t.equal(first!.indexOf('62.50 %') + 7, header!.indexOf('top-1') + 5, 'numbers right-aligned under their header');
  t.match(
    text,
    [
      `root@127.0.0.1:${p0}: current rel-b (cpu-x86, deployed 2026-12-02T10:00:00.000Z, effnet-edge 0.1.0)`,
      / {2}platform: .*; JetPack none; TensorRT none\n/,
      '  accuracy at deploy on native-int8: top-1 62.50 % (min 55 %), agreement with fp32 92.50 % (min 85 %)',
      "    pass: bundle files match the manifest's sha256 (0 files differ)",
      '    pass: top-1 agreement with build-time fp32 (measured 92.5 %)',
      '    pass: top-1 accuracy on the labelled golden inputs (measured 62.5 %)',
      '  last verify: pass at 2026-12-02T10:00:00.000Z (deploy of rel-b on native-int8, 3 of 3 checks passed)',
    ]
      .map((l) => (typeof l === 'string' ? `${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n` : l.source))
      .reduce((a, b) => new RegExp(a.source + b), /(?:)/),
  );
  t.match(text, `  last verify: fail at NOW (verify --host of rel-c on auto: verify printed no TAP (exit 1): `);
  t.match(text, `root@127.0.0.1:${closedPort}: unreachable: cannot connect (ECONNREFUSED)\n`);
  t.notMatch(text, /sha256: 0/, 'no bare numbers for checks');
});

t.test('exit 1 only when no device answered; --html refuses a folder', { skip: skip ?? false }, async (t) => {
  const none = await runCli(['status', '--host', `root@127.0.0.1:${closedPort}`, ...sshArgs(), '--json']);
  t.equal(none.code, 1);
  t.match(
    none.stderr,
    new RegExp(`\\neffnet-edge status: root@127\\.0\\.0\\.1:${closedPort}: cannot connect \\(ECONNREFUSED\\)\\n$`),
  );
  t.match(JSON.parse(none.stdout), { hosts: [{ reachable: false, error: 'cannot connect (ECONNREFUSED)' }] });
  const folder = await runCli(['status', '--host', `root@127.0.0.1:${closedPort}`, ...sshArgs(), '--html', dir]);
  t.equal(folder.code, 2);
  t.equal(
    folder.stderr.split('\n')[0],
    `effnet-edge status: --html ${dir} is a folder; give the path of the HTML file to write, e.g. ${join(dir, 'status.html')}`,
    'refused before any device is asked (no connection error follows)',
  );
  t.notMatch(folder.stderr, /ECONNREFUSED/);
});
