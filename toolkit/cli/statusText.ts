/** `status`'s words: one table row per device, then each device's details, checks as pass/fail with what was checked. */
import type { CheckAtDeploy, DeviceStatus, VerifyRecord } from '../deploy/fleetStatus.js';
import { formatTable } from './table.js';

/** pass/fail: the device's last verify; unreachable: no answer; unverified: reachable, no verify in its log. */
export type DeviceState = 'pass' | 'fail' | 'unreachable' | 'unverified';

export function stateOf(d: DeviceStatus): DeviceState {
  if (!d.reachable) return 'unreachable';
  return d.lastVerify?.result ?? 'unverified';
}

/** Bytes as decimal gigabytes, one decimal: `12.3 GB`. */
export const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;

const percent = (value: number | null) => (value === null ? '-' : `${value.toFixed(2)} %`);

/** What a check's number means, by what it checks: files that differ, a percentage, or a plain value. */
function measuredInWords(check: string, measured: number | string | null): string {
  if (measured === null) return 'nothing measured';
  if (/sha256/.test(check) && typeof measured === 'number')
    return `${measured} file${measured === 1 ? '' : 's'} differ${measured === 1 ? 's' : ''}`;
  if (/agreement|accuracy/.test(check) && typeof measured === 'number') return `measured ${measured} %`;
  return `measured ${measured}`;
}

/** `pass: bundle files match the manifest's sha256 (0 files differ)`. */
export function checkInWords(c: CheckAtDeploy): string {
  return `${c.result}: ${c.check} (${measuredInWords(c.check, c.measured)})`;
}

export function verifyInWords(v: VerifyRecord | null): string {
  if (v === null) return 'never';
  const by = v.by === 'deploy' ? 'deploy' : 'verify --host';
  const ran = (v.passed ?? 0) + (v.failed ?? 0);
  const counts = ran === 0 ? '' : `, ${v.passed} of ${ran} checks passed`;
  const on = v.runtime === null ? '' : ` on ${v.runtime}`;
  const why = v.reason ?? (v.failing.length ? `failed ${v.failing.join('; ')}` : null);
  return `${v.result} at ${v.time} (${by} of ${v.release}${on}${counts}${why ? `: ${why}` : ''})`;
}

export function platformInWords(d: DeviceStatus): string {
  const p = d.platform;
  if (p === null) return 'unknown';
  const system = [p.os, p.machine].filter((x) => x !== null).join(', ') || 'unknown system';
  const jetpack = p.jetpack === null ? 'JetPack none' : `JetPack ${p.jetpack} (L4T ${p.l4t})`;
  const atDeploy = p.tensorrtAtDeploy === null ? '' : ` (engine built with ${p.tensorrtAtDeploy})`;
  return `${system}; ${jetpack}; TensorRT ${p.tensorrt ?? 'none'}${atDeploy}`;
}

function summaryTable(devices: DeviceStatus[]): string {
  return formatTable(
    [
      { header: 'host' },
      { header: 'state' },
      { header: 'current' },
      { header: 'verified on' },
      { header: 'JetPack' },
      { header: 'TensorRT' },
      { header: 'top-1', align: 'right' },
      { header: 'agreement', align: 'right' },
      { header: 'last verify' },
      { header: 'free disk', align: 'right' },
    ],
    devices.map((d) => [
      d.host,
      stateOf(d),
      d.current ?? (d.reachable ? 'none' : '-'),
      d.runtime ?? '-',
      d.platform ? (d.platform.jetpack ?? 'none') : '-',
      d.platform ? (d.platform.tensorrt ?? 'none') : '-',
      percent(d.accuracy.top1),
      percent(d.accuracy.agreement),
      d.lastVerify ? `${d.lastVerify.result} ${d.lastVerify.time}` : d.reachable ? 'never' : '-',
      d.disk ? gigabytes(d.disk.freeBytes) : '-',
    ]),
  );
}

const bound = (min: number | null) => (min === null ? '' : ` (min ${min} %)`);

function details(d: DeviceStatus): string {
  if (!d.reachable) return `${d.host}: unreachable: ${d.error ?? 'unknown'}\n`;
  const deployed = d.target ? ` (${d.target}, deployed ${d.deployedAt}, effnet-edge ${d.toolkitVersion})` : '';
  const lines = [
    `${d.host}: current ${d.current ?? 'none'}${deployed}`,
    `  platform: ${platformInWords(d)}`,
    `  accuracy at deploy on ${d.runtime ?? '-'}: top-1 ${percent(d.accuracy.top1)}${bound(d.accuracy.minTop1)}, agreement with fp32 ${percent(d.accuracy.agreement)}${bound(d.accuracy.minAgreement)}`,
    ...d.checksAtDeploy.map((c) => `    ${checkInWords(c)}`),
    `  last verify: ${verifyInWords(d.lastVerify)}`,
    `  free disk: ${d.disk ? `${gigabytes(d.disk.freeBytes)} of ${gigabytes(d.disk.totalBytes)} under ${d.disk.path}` : 'unknown'}`,
    ...(d.engineKey
      ? [
          `  engine key: ${Object.entries(d.engineKey)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')}`,
        ]
      : []),
  ];
  const releases = formatTable(
    [{ header: '  release' }, { header: 'last event' }, { header: 'time' }, { header: 'on device' }],
    d.releases.map((r) => [
      `  ${r.release}${r.release === d.current ? ' *' : ''}`,
      r.lastEvent,
      r.time,
      r.onDevice ? 'yes' : 'pruned',
    ]),
  );
  return `${lines.join('\n')}\n${d.releases.length ? releases : ''}`;
}

export function statusText(devices: DeviceStatus[]): string {
  return [summaryTable(devices), ...devices.map(details)].join('\n');
}
