/**
 * What `status` reports of one device, read in one round trip: the release area (current, log, folders), the current
 * release's thresholds, the platform (OS, Jetson Linux / JetPack, TensorRT) and the free disk under the remote dir.
 * Everything else comes from the release log, which deploy and `verify --host` write: nothing is run on the device.
 */
import { deviceFactsCommands, deviceFactsFrom, type DeviceFacts } from './prerequisites.js';
import { snapshotCommands, snapshotFrom, type ReleaseLogEntry, type RemoteLayout } from './remote.js';
import { shellQuote, type SshSession } from './ssh.js';
import { freeSpaceCommand } from './upload.js';

/** The names of the device verify's checks (device/regression.ts) whose numbers are the accuracy status shows. */
export const TOP1_CHECK = 'top-1 accuracy on the labelled golden inputs';
export const AGREEMENT_CHECK = 'top-1 agreement with build-time fp32';

/** A deploy only switches a release whose checks all passed, so every check it logged is a pass. */
export interface CheckAtDeploy {
  check: string;
  result: 'pass';
  measured: number | string | null;
}

export interface VerifyRecord {
  time: string;
  release: string;
  /** `deploy`: the verify a deploy ran before switching; `verify`: a later `verify --host`. */
  by: 'deploy' | 'verify';
  runtime: string | null;
  result: 'pass' | 'fail';
  passed: number | null;
  failed: number | null;
  /** The checks that failed, when the log names them (`verify --host` runs). */
  failing: string[];
  reason: string | null;
}

export interface ReleaseRow {
  release: string;
  lastEvent: string;
  time: string;
  onDevice: boolean;
  /** When it was last deployed (switched to after its verify passed), and what that verify measured, in %. */
  deployedAt: string | null;
  top1: number | null;
  agreement: number | null;
  reason: string | null;
}

export interface DevicePlatform {
  os: string | null;
  machine: string | null;
  /** Jetson Linux release (/etc/nv_tegra_release), e.g. R36.3.0; null off Jetson. */
  l4t: string | null;
  /** The JetPack major release of that Jetson Linux, e.g. '6'. */
  jetpack: string | null;
  /** TensorRT installed now (dpkg, else NvInferVersion.h), and the version the current release's engine was built with. */
  tensorrt: string | null;
  tensorrtAtDeploy: string | null;
}

export interface DeviceStatus {
  host: string;
  reachable: boolean;
  error: string | null;
  root: string | null;
  current: string | null;
  target: string | null;
  deployedAt: string | null;
  toolkitVersion: string | null;
  /** The runtime the current release was verified on when it was deployed. */
  runtime: string | null;
  platform: DevicePlatform | null;
  /** What the deploy's verify measured (%) and the bounds the manifest sets for that runtime. */
  accuracy: { top1: number | null; minTop1: number | null; agreement: number | null; minAgreement: number | null };
  checksAtDeploy: CheckAtDeploy[];
  lastVerify: VerifyRecord | null;
  disk: { path: string; freeBytes: number; totalBytes: number } | null;
  engineKey: Record<string, unknown> | null;
  releases: ReleaseRow[];
}

/** A device with nothing known: the key order every status shares, so `--json` reads the same for every host. */
export function blankStatus(host: string, error: string | null): DeviceStatus {
  return {
    host,
    reachable: false,
    error,
    root: null,
    current: null,
    target: null,
    deployedAt: null,
    toolkitVersion: null,
    runtime: null,
    platform: null,
    accuracy: { top1: null, minTop1: null, agreement: null, minAgreement: null },
    checksAtDeploy: [],
    lastVerify: null,
    disk: null,
    engineKey: null,
    releases: [],
  };
}

/** Jetson Linux majors and the JetPack they ship in (R32: JetPack 4, R35: 5, R36: 6, R38: 7). */
const JETPACK_OF_L4T: Readonly<Record<string, string>> = { '32': '4', '34': '5', '35': '5', '36': '6', '38': '7' };

export function jetpackOf(l4t: string | null): string | null {
  const major = l4t === null ? null : /^R(\d+)/.exec(l4t)?.[1];
  return major === undefined || major === null ? null : (JETPACK_OF_L4T[major] ?? null);
}

/** Installed TensorRT from `dpkg-query` lines `ii |package|version`: the `tensorrt` package, else libnvinfer. */
export function tensorrtFromDpkg(text: string): string | null {
  const installed = text
    .split('\n')
    .map((l) => l.split('|').map((p) => p.trim()))
    .filter((p) => p.length === 3 && p[0] === 'ii');
  const row = installed.find((p) => p[1] === 'tensorrt') ?? installed.find((p) => /^libnvinfer\d+$/.test(p[1]!));
  return row ? (/^(\d+\.\d+(?:\.\d+)?)/.exec(row[2]!)?.[1] ?? null) : null;
}

/** One line of `df -Pk`: total and available 1024-byte blocks as bytes, or null. */
export function diskFrom(text: string, path: string): DeviceStatus['disk'] {
  const fields = text.trim().split(/\s+/);
  const total = Number(fields[1]);
  const free = Number(fields[3]);
  return fields.length >= 6 && Number.isFinite(total) && Number.isFinite(free)
    ? { path, freeBytes: free * 1024, totalBytes: total * 1024 }
    : null;
}

/** The commands `deviceStatusFrom` reads, in order: snapshot, current manifest, dpkg, df, then the device facts. */
export function statusCommands(layout: RemoteLayout): string[] {
  return [
    ...snapshotCommands(layout),
    `cat ${shellQuote(`${layout.current}/manifest.json`)} 2>/dev/null`,
    `dpkg-query -W -f '\${db:Status-Abbrev}|\${Package}|\${Version}\\n' tensorrt 'libnvinfer[0-9]*' 2>/dev/null`,
    freeSpaceCommand(layout.root),
    ...deviceFactsCommands({ tensorrtInclude: null }),
  ];
}

export async function deviceStatus(options: {
  session: SshSession;
  layout: RemoteLayout;
  host: string;
}): Promise<DeviceStatus> {
  const results = await options.session.sections(statusCommands(options.layout));
  return deviceStatusFrom({ host: options.host, layout: options.layout, results });
}

const numberOrNull = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The bounds for `runtime` in a manifest's text, read leniently: a status must not fail on an older manifest. */
export function thresholdsFrom(
  manifestText: string,
  runtime: string | null,
): { minTop1: number | null; minAgreement: number | null } {
  try {
    const manifest = JSON.parse(manifestText) as {
      thresholds?: { runtimes?: Record<string, Record<string, unknown>> };
    };
    const bounds = runtime === null ? undefined : manifest.thresholds?.runtimes?.[runtime];
    return { minTop1: numberOrNull(bounds?.minTop1), minAgreement: numberOrNull(bounds?.minAgreement) };
  } catch {
    return { minTop1: null, minAgreement: null };
  }
}

export function deviceStatusFrom(options: {
  host: string;
  layout: RemoteLayout;
  results: { code: number; stdout: string }[];
}): DeviceStatus {
  const { layout, results } = options;
  const snapshot = snapshotFrom(results.slice(0, 3));
  const [manifest, dpkg, df] = results.slice(3, 6).map((r) => r.stdout);
  const facts = deviceFactsFrom(results.slice(6));
  const { current, log } = snapshot;
  const deployed = [...log].reverse().find((e) => e.event === 'deployed' && e.release === current) ?? null;
  const runtime = deployed?.verify?.runtime ?? null;
  const measured = deployed?.verify?.measured ?? {};
  return {
    ...blankStatus(options.host, null),
    reachable: true,
    root: layout.root,
    current,
    target: deployed?.target ?? null,
    deployedAt: deployed?.time ?? null,
    toolkitVersion: deployed?.toolkitVersion ?? null,
    runtime,
    platform: platformFrom({ facts, dpkg: dpkg ?? '', engineKey: deployed?.engineKey ?? null }),
    accuracy: {
      top1: numberOrNull(measured[TOP1_CHECK]),
      minTop1: thresholdsFrom(manifest ?? '', runtime).minTop1,
      agreement: numberOrNull(measured[AGREEMENT_CHECK]),
      minAgreement: thresholdsFrom(manifest ?? '', runtime).minAgreement,
    },
    checksAtDeploy: Object.entries(measured).map(([check, value]) => ({ check, result: 'pass', measured: value })),
    lastVerify: lastVerifyOf(log),
    disk: diskFrom(df ?? '', layout.root),
    engineKey: deployed?.engineKey ?? null,
    releases: releaseRowsFrom({ log, folders: snapshot.folders }),
  };
}

function platformFrom(options: {
  facts: DeviceFacts;
  dpkg: string;
  engineKey: Record<string, unknown> | null;
}): DevicePlatform {
  const { facts, engineKey } = options;
  const atDeploy = engineKey?.tensorrtVersion;
  return {
    os: facts.os,
    machine: facts.machine,
    l4t: facts.l4t,
    jetpack: jetpackOf(facts.l4t),
    tensorrt: tensorrtFromDpkg(options.dpkg) ?? facts.tensorrt?.version ?? null,
    tensorrtAtDeploy: atDeploy === undefined || atDeploy === null ? null : String(atDeploy),
  };
}

const DEPLOY_VERIFY_FAILED = 'on-device verify failed';

/** The newest verify the log records: a deploy's (passed), a deploy's that failed, or a `verify --host` run. */
export function lastVerifyOf(log: ReleaseLogEntry[]): VerifyRecord | null {
  for (const entry of [...log].reverse()) {
    const base = { time: entry.time, release: entry.release, reason: entry.reason ?? null };
    const counts = {
      passed: entry.verify?.passed ?? null,
      failed: entry.verify?.failed ?? null,
      failing: entry.verify?.failing ?? [],
    };
    if (entry.event === 'deployed' && entry.verify)
      return { ...base, by: 'deploy', runtime: entry.verify.runtime, result: 'pass', ...counts };
    if (entry.event === 'verified') {
      const passed = entry.verify !== undefined && entry.verify.failed === 0 && entry.reason === undefined;
      return {
        ...base,
        by: 'verify',
        runtime: entry.verify?.runtime ?? null,
        result: passed ? 'pass' : 'fail',
        ...counts,
      };
    }
    if (entry.event === 'failed' && entry.reason?.startsWith(DEPLOY_VERIFY_FAILED))
      return { ...base, by: 'deploy', runtime: null, result: 'fail', ...counts };
  }
  return null;
}

/** One row per release the log names, newest first, with what its last deploy measured. */
export function releaseRowsFrom(options: { log: ReleaseLogEntry[]; folders: string[] }): ReleaseRow[] {
  const newestFirst = [...options.log].reverse();
  const folders = new Set(options.folders);
  return [...new Set(newestFirst.map((e) => e.release))].map((release) => {
    const last = newestFirst.find((e) => e.release === release)!;
    const deployed = newestFirst.find((e) => e.release === release && e.event === 'deployed');
    const measured = deployed?.verify?.measured ?? {};
    return {
      release,
      lastEvent: last.event,
      time: last.time,
      onDevice: folders.has(release),
      deployedAt: deployed?.time ?? null,
      top1: numberOrNull(measured[TOP1_CHECK]),
      agreement: numberOrNull(measured[AGREEMENT_CHECK]),
      reason: last.reason ?? null,
    };
  });
}
