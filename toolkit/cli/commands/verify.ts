/**
 * `effnet-edge verify`: the on-device accuracy regression. With --bundle it runs here (on the device itself); with
 * --host it runs on each device's current release over SSH and streams the device's TAP back.
 */
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError, UserError } from '../../errors.js';
import { junitFrom, tapFrom, verifySuite, type CheckResult } from '../../eval/checkReports.js';
import { verifiedBundle } from '../../device/verify.js';
import { deviceCli } from '../../deploy/deviceCli.js';
import { verifiedOnDevice } from '../../deploy/deploy.js';
import { forEachHost } from '../../deploy/fleet.js';
import { releaseDir, releaseSnapshot } from '../../deploy/remote.js';
import { hostLabel } from '../../deploy/ssh.js';
import { runtimeChoiceFrom } from '../../device/bundleRunner.js';
import type { Command } from '../command.js';
import { flag, stringOption } from '../command.js';
import { JSON_GROUP, RUNTIME_HELP } from '../groups.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom } from '../sshOptions.js';
import { formatTable } from '../table.js';

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
  groups: [
    {
      options: {
        bundle: { type: 'string' },
        tap: { type: 'boolean' },
        junit: { type: 'string' },
        runtime: { type: 'string' },
      },
      help: [
        "  --bundle DIR            check this bundle here, on this machine's runtime",
        '  --tap                   TAP 14 on stdout: one test point per check, YAML with measured and allowed',
        '  --junit FILE            also write JUnit XML (one testcase per check) for CI systems',
        RUNTIME_HELP,
      ],
    },
    HOSTS_GROUP,
    SSH_GROUP,
    JSON_GROUP,
  ],
  async run(args, io) {
    const bundle = stringOption(args, 'bundle');
    const remote = stringOption(args, 'host') !== undefined || stringOption(args, 'inventory') !== undefined;
    if (bundle && remote)
      throw new UsageError('give --bundle (check here) or --host/--inventory (check devices), not both');
    if (!bundle && !remote) throw new UsageError('--bundle DIR or --host H is required');
    const junit = stringOption(args, 'junit');
    if (bundle) {
      const manifest = await manifestFromBundle(bundle);
      const outcome = await verifiedBundle({
        bundle,
        manifest,
        runtime: runtimeChoiceFrom(stringOption(args, 'runtime')),
        onNotice: (m) => io.stderr(`effnet-edge verify: ${m}\n`),
      });
      const suite = verifySuite({ target: manifest.target.name, runtime: outcome.runtime });
      if (junit)
        await writeFile(junit, junitFrom({ suite, checks: outcome.checks, hostname: hostname() })).catch(
          (error: Error) => {
            throw new UserError(`--junit ${junit}: cannot write (${error.message})`);
          },
        );
      if (flag(args, 'tap')) io.stdout(tapFrom({ suite, checks: outcome.checks, comment: [suite] }));
      else if (flag(args, 'json'))
        io.stdout(
          `${JSON.stringify(
            {
              bundle,
              target: manifest.target.name,
              runtime: outcome.runtime,
              passed: outcome.passed,
              checks: outcome.checks,
            },
            null,
            2,
          )}\n`,
        );
      else io.stdout(printedChecks(outcome.checks));
      return outcome.passed ? 0 : 1;
    }

    const targets = await hostTargetsOf(args);
    const settings = sshSettingsFrom(args);
    const runtime = stringOption(args, 'runtime');
    if (runtime !== undefined) runtimeChoiceFrom(runtime);
    const outcomes = await forEachHost({
      targets,
      concurrency: 1,
      maxFail: Infinity,
      work: (target) =>
        onDevice(
          { target, settings, onNotice: (m) => io.stderr(`effnet-edge verify: ${m}\n`) },
          async (session, layout) => {
            const label = hostLabel(target);
            const { current } = await releaseSnapshot(session, layout);
            if (current === null)
              throw new UserError(`${label}: no current release under ${layout.root}; deploy one first`);
            const cli = await deviceCli({
              session,
              layout,
              explicit: settings.remoteCli,
              install: null,
              onNotice: () => {},
            });
            if (flag(args, 'tap') && targets.length > 1) io.stdout(`# ${label}: ${current}\n`);
            const dir = releaseDir(layout, current);
            const result = await verifiedOnDevice({
              session,
              cli,
              dir,
              runtime: runtime ?? 'auto',
              timeoutMs: 30 * 60_000,
              ...(flag(args, 'tap') ? { onTap: (text: string) => io.stdout(text) } : {}),
            });
            if (result.points.length === 0)
              throw new UserError(
                `${label}: verify printed no TAP (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`,
              );
            return { label, release: current, points: result.points, passed: result.code === 0 };
          },
        ),
    });
    const checks: CheckResult[] = outcomes.flatMap((o) =>
      o.value
        ? o.value.points.map((p) => ({
            name: `${o.value!.label}: ${p.name}`,
            ok: p.ok,
            measured: (p.diag?.measured ?? null) as number | string | null,
            allowed: String(p.diag?.allowed ?? ''),
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
    if (junit)
      await writeFile(junit, junitFrom({ suite: 'effnet-edge verify', checks })).catch((error: Error) => {
        throw new UserError(`--junit ${junit}: cannot write (${error.message})`);
      });
    if (flag(args, 'json')) {
      io.stdout(
        `${JSON.stringify(
          {
            hosts: outcomes.map((o) => ({
              host: hostLabel(o.target),
              release: o.value?.release ?? null,
              passed: o.value?.passed ?? false,
              error: o.error,
              checks: o.value?.points ?? [],
            })),
          },
          null,
          2,
        )}\n`,
      );
    } else if (!flag(args, 'tap')) {
      io.stdout(printedChecks(checks));
    }
    for (const o of outcomes) if (o.error) io.stderr(`effnet-edge verify: ${o.error}\n`);
    return outcomes.every((o) => o.value?.passed) ? 0 : 1;
  },
};
