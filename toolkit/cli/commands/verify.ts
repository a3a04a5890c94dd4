/**
 * `effnet-edge verify`: the on-device accuracy regression. With --bundle it runs here (on the device itself); with
 * --host it runs on each device's current release over SSH and streams the device's TAP back.
 */
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError, UserError } from '../../errors.js';
import {
  junitFrom,
  runtimeOfVerifyTap,
  tapFrom,
  verifySuite,
  type Bound,
  type CheckResult,
} from '../../eval/checkReports.js';
import { verifiedBundle } from '../../device/verify.js';
import { allowedSignersFor, signatureCheckResult } from '../../device/signaturePolicy.js';
import { deviceCli } from '../../deploy/deviceCli.js';
import { verifiedOnDevice } from '../../deploy/deploy.js';
import { forEachHost } from '../../deploy/fleet.js';
import { logCommand, releaseDir, releaseSnapshot, verifiedEntry } from '../../deploy/remote.js';
import { hostLabel } from '../../deploy/ssh.js';
import { runtimeChoiceFrom } from '../../device/bundleRunner.js';
import type { HostTarget } from '../../deploy/hosts.js';
import type { HostOutcome } from '../../deploy/fleet.js';
import type { TapPoint } from '../../eval/checkReports.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { flag, stringOption, messageFor } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP, RUNTIME_OPTION } from '../sharedOptions.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom, type SshSettings } from '../sshOptions.js';
import { formatTable } from '../table.js';
import { TOOLKIT_VERSION } from '../../version.js';

function printedChecks(checks: CheckResult[]): string {
  return formatTable(
    [{ header: 'check' }, { header: 'result' }, { header: 'measured', align: 'right' }, { header: 'allowed' }],
    checks.map((c) => [
      c.name,
      c.skip ? 'skip' : c.ok ? 'ok' : 'FAIL',
      c.measured === null ? '-' : String(c.measured),
      c.skip ?? c.allowed,
    ]),
  );
}

const VERIFY_GROUP: OptionGroup = [
  // The same option as elsewhere; here it is the alternative to checking devices over SSH.
  { ...BUNDLE_OPTION, help: "check this bundle here, on this machine's runtime" },
  { name: 'tap', type: 'boolean', help: 'TAP 14 on stdout: one test point per check, YAML with measured and allowed' },
  {
    name: 'junit',
    type: 'string',
    placeholder: 'FILE',
    help: 'also write JUnit XML (one testcase per check) for CI systems',
  },
  RUNTIME_OPTION,
  {
    name: 'allowed-signers',
    type: 'string',
    placeholder: 'FILE',
    help: "with --bundle: refuse a bundle whose manifest.json.sig no key in FILE made (OpenSSH allowed_signers; default: <root>/allowed_signers beside the bundle's releases folder, when it exists)",
  },
];

async function junitWritten(path: string, xml: string): Promise<void> {
  await writeFile(path, xml).catch((error: Error) => {
    throw new UserError(`--junit ${path}: cannot write (${error.message})`);
  });
}

/** --bundle: the checks run here, on this machine's runtime. */
async function verifiedHere(bundle: string, args: ParsedArgs, io: CommandIo): Promise<number> {
  const policy = await allowedSignersFor({ bundle, explicit: stringOption(args, 'allowed-signers') });
  // Checked on manifest.json's bytes before anything of the bundle is parsed or run.
  const signing = performance.now();
  const signature = policy ? await signatureCheckResult({ bundle, policy }) : null;
  const signed = signature && { ...signature, durationMs: performance.now() - signing };
  if (signed && !signed.ok) return reported({ bundle, target: null, runtime: 'none', checks: [signed], args, io });
  const manifest = await manifestFromBundle(bundle);
  const verified = await verifiedBundle({
    bundle,
    manifest,
    runtime: runtimeChoiceFrom(stringOption(args, 'runtime')),
    onNotice: (m) => io.stderr(`effnet-edge verify: ${m}\n`),
  });
  const checks = signed ? [signed, ...verified.checks] : verified.checks;
  return reported({ bundle, target: manifest.target.name, runtime: verified.runtime, checks, args, io });
}

/** verify --bundle's output (table, TAP, JSON, JUnit) and exit code. */
async function reported(options: {
  bundle: string;
  target: string | null;
  runtime: string;
  checks: CheckResult[];
  args: ParsedArgs;
  io: CommandIo;
}): Promise<number> {
  const { bundle, target, runtime, checks, args, io } = options;
  const junit = stringOption(args, 'junit');
  const passed = checks.every((c) => c.ok);
  const suite = verifySuite({ target: target ?? 'unverified bundle', runtime });
  if (junit) await junitWritten(junit, junitFrom({ suite, checks, hostname: hostname() }));
  if (flag(args, 'tap')) io.stdout(tapFrom({ suite, checks, comment: [suite] }));
  else if (flag(args, 'json')) io.stdout(`${JSON.stringify({ bundle, target, runtime, passed, checks }, null, 2)}\n`);
  else io.stdout(printedChecks(checks));
  return passed ? 0 : 1;
}

interface DeviceVerify {
  label: string;
  release: string;
  points: TapPoint[];
  passed: boolean;
}

/** One device: its current release's verify, run there by its effnet-edge, TAP streamed back when asked. */
function verifiedOnHost(options: {
  target: HostTarget;
  settings: SshSettings;
  runtime: string | undefined;
  several: boolean;
  args: ParsedArgs;
  io: CommandIo;
}): Promise<DeviceVerify> {
  const { target, settings, args, io } = options;
  const tap = flag(args, 'tap');
  return onDevice(
    { target, settings, onNotice: (m) => io.stderr(`effnet-edge verify: ${m}\n`) },
    async (session, layout) => {
      const label = hostLabel(target);
      const { current, log } = await releaseSnapshot(session, layout);
      if (current === null) throw new UserError(`${label}: no current release under ${layout.root}; deploy one first`);
      const cli = await deviceCli({ session, layout, explicit: settings.remoteCli, install: null, onNotice: () => {} });
      if (tap && options.several) io.stdout(`# ${label}: ${current}\n`);
      const result = await verifiedOnDevice({
        session,
        cli,
        dir: releaseDir(layout, current),
        runtime: options.runtime ?? 'auto',
        timeoutMs: 30 * 60_000,
        ...(tap ? { onTap: (text: string) => io.stdout(text) } : {}),
      });
      const noTap =
        result.points.length === 0
          ? `verify printed no TAP (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`
          : null;
      // A non-zero exit after checks that all passed is still a failed verify; the log says why.
      const exitOnly = result.code !== 0 && result.points.every((p) => p.ok) ? `verify exited ${result.code}` : null;
      // The device keeps the verdict, pass or fail, for `status` (the log line a deploy's verify has too).
      const runtime = runtimeOfVerifyTap(result.tap) ?? options.runtime ?? 'auto';
      const time = new Date().toISOString();
      const entry = verifiedEntry({
        release: current,
        log,
        runtime,
        points: result.points,
        reason: noTap ?? exitOnly,
        time,
        toolkitVersion: TOOLKIT_VERSION,
      });
      // Best effort: a log the login user cannot append to must not turn a verify that passed into a failure.
      await session
        .run(logCommand(layout, entry), `logging the verify of ${current}`)
        .catch((error: Error) => io.stderr(`effnet-edge verify: ${error.message}; status will not show this verify\n`));
      if (noTap) throw new UserError(`${label}: ${noTap}`);
      return { label, release: current, points: result.points, passed: result.code === 0 };
    },
  );
}

/** What the device's TAP says of a check's bound and time (its YAML's `bound` and `duration_ms`), when it says it. */
function deviceTimeAndBound(point: TapPoint): Pick<CheckResult, 'bound' | 'durationMs'> {
  const { bound, duration_ms: durationMs } = point.diag ?? {};
  return {
    ...(bound !== null && typeof bound === 'object' ? { bound: bound as Bound } : {}),
    ...(typeof durationMs === 'number' ? { durationMs } : {}),
  };
}

/** Every device's checks as one list; a device that could not be reached or checked is one failed check. */
function checksOf(outcomes: HostOutcome<DeviceVerify>[]): CheckResult[] {
  return outcomes.flatMap((o) =>
    o.value
      ? o.value.points.map((p) => ({
          name: `${o.value!.label}: ${p.name}`,
          ok: p.ok,
          measured: (p.diag?.measured ?? null) as number | string | null,
          allowed: String(p.diag?.allowed ?? ''),
          ...deviceTimeAndBound(p),
          skip: p.skip,
        }))
      : [
          {
            name: `${hostLabel(o.target)}: reach the device and run verify`,
            ok: false,
            measured: o.error,
            allowed: 'a current release that verifies',
            skip: null,
          },
        ],
  );
}

/** --host/--inventory: each device's current release, checked there, one device at a time. */
async function verifiedOnDevices(args: ParsedArgs, io: CommandIo): Promise<number> {
  const junit = stringOption(args, 'junit');
  const targets = await hostTargetsOf(args);
  const settings = sshSettingsFrom(args);
  const runtime = stringOption(args, 'runtime');
  if (runtime !== undefined) runtimeChoiceFrom(runtime);
  const outcomes = await forEachHost({
    describe: (error) => messageFor(error, verifyCommand),
    targets,
    concurrency: 1,
    maxFail: Infinity,
    work: (target) => verifiedOnHost({ target, settings, runtime, several: targets.length > 1, args, io }),
  });
  const checks = checksOf(outcomes);
  if (junit) await junitWritten(junit, junitFrom({ suite: 'effnet-edge verify', checks }));
  if (flag(args, 'json')) {
    const hosts = outcomes.map((o) => ({
      host: hostLabel(o.target),
      release: o.value?.release ?? null,
      passed: o.value?.passed ?? false,
      error: o.error,
      checks: o.value?.points ?? [],
    }));
    io.stdout(`${JSON.stringify({ hosts }, null, 2)}\n`);
  } else if (!flag(args, 'tap')) {
    io.stdout(printedChecks(checks));
  }
  for (const o of outcomes) if (o.error) io.stderr(`effnet-edge verify: ${o.error}\n`);
  return outcomes.every((o) => o.value?.passed) ? 0 : 1;
}

export const verifyCommand: Command = {
  name: 'verify',
  summary:
    "On-device accuracy regression: the golden set on the device's runtime vs what the build recorded (TAP, JUnit).",
  usage:
    'effnet-edge verify (--bundle DIR | --host H[,H...] | --inventory FILE) [--tap] [--junit FILE] [--runtime R] [--json]',
  examples: [
    'effnet-edge verify --bundle ~/.effnet-edge/current --tap',
    'effnet-edge verify --host ubuntu@jetson --junit verify.xml',
  ],
  groups: [VERIFY_GROUP, HOSTS_GROUP, SSH_GROUP, JSON_GROUP],
  async run(args, io) {
    const bundle = stringOption(args, 'bundle');
    const remote = stringOption(args, 'host') !== undefined || stringOption(args, 'inventory') !== undefined;
    if (bundle && remote)
      throw new UsageError('give --bundle (check here) or --host/--inventory (check devices), not both');
    if (!bundle && !remote) throw new UsageError('--bundle DIR or --host H is required');
    return bundle ? verifiedHere(bundle, args, io) : verifiedOnDevices(args, io);
  },
};
