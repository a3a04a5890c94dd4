/**
 * `status --html`: the fleet on one self-contained page (inline CSS and SVG, no scripts, no fonts, no network, no
 * clock: the same statuses give the same bytes). A coloured table per device (green: its last verify passed, red: it
 * failed, grey: unreachable or never verified) and one plot of accuracy per release over time.
 */
import type { DeviceStatus } from '../deploy/fleetStatus.js';
import { accuracyPlotSvg, colourOf, escapeHtml } from './statusPlot.js';
import { checkInWords, gigabytes, platformInWords, stateOf, verifyInWords, type DeviceState } from './statusText.js';

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d232a; margin: 2rem auto; max-width: 980px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; display: flex; gap: .6rem; align-items: center; }
.summary { color: #4a5560; margin-top: 0; }
section.device { border: 1px solid #d5dbe1; border-left: 8px solid #9aa4ae; border-radius: 6px; padding: .9rem 1.1rem; margin: 1rem 0; }
section.device.pass { border-left-color: #1e8e3e; }
section.device.fail { border-left-color: #d93025; }
.badge { font-size: .75rem; font-weight: 600; color: #fff; background: #9aa4ae; border-radius: 999px; padding: .1rem .6rem; }
.pass .badge { background: #1e8e3e; }
.fail .badge { background: #d93025; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .6rem .25rem 0; vertical-align: top; border-bottom: 1px solid #eef1f4; }
th { color: #4a5560; font-weight: 500; width: 13rem; }
td.good { color: #1e8e3e; font-weight: 600; }
td.bad { color: #d93025; font-weight: 600; }
table.releases th { width: auto; }
table.releases td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { max-width: 100%; height: auto; }
svg .grid { stroke: #eef1f4; }
svg .axis { stroke: #4a5560; }
svg .tick { font-size: 11px; fill: #4a5560; }
svg .label { font-size: 12px; fill: #1d232a; }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; font-size: .85rem; color: #4a5560; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 50%; margin-right: .3rem; vertical-align: -1px; }
`;

const BADGE: Readonly<Record<DeviceState, string>> = {
  pass: 'last verify passed',
  fail: 'last verify failed',
  unreachable: 'unreachable',
  unverified: 'never verified',
};

const row = (label: string, value: string, tone: 'good' | 'bad' | null = null) =>
  `<tr><th>${escapeHtml(label)}</th><td${tone ? ` class="${tone}"` : ''}>${escapeHtml(value)}</td></tr>`;

/** `62.50 % (min 60 %)`, green when it meets its bound, red when not, plain when either is unknown. */
function accuracyRow(label: string, value: number | null, min: number | null): string {
  const text = value === null ? 'not measured' : `${value.toFixed(2)} %${min === null ? '' : ` (min ${min} %)`}`;
  return row(label, text, value === null || min === null ? null : value >= min ? 'good' : 'bad');
}

function deviceTable(d: DeviceStatus): string {
  if (!d.reachable) return `<table>${row('reason', d.error ?? 'unknown')}</table>`;
  const verify = d.lastVerify;
  return [
    '<table>',
    row('current release', d.current ?? 'none'),
    row('target', d.target ?? 'none'),
    row('verified on', d.runtime ?? 'none'),
    row('platform', platformInWords(d)),
    accuracyRow('top-1 at deploy', d.accuracy.top1, d.accuracy.minTop1),
    accuracyRow('agreement with fp32 at deploy', d.accuracy.agreement, d.accuracy.minAgreement),
    row('last verify', verifyInWords(verify), verify === null ? null : verify.result === 'pass' ? 'good' : 'bad'),
    row(
      'free disk',
      d.disk ? `${gigabytes(d.disk.freeBytes)} of ${gigabytes(d.disk.totalBytes)} (${d.disk.path})` : 'unknown',
    ),
    ...d.checksAtDeploy.map((c, i) => row(i === 0 ? 'checks at deploy' : '', checkInWords(c), 'good')),
    '</table>',
  ].join('\n');
}

function releasesTable(d: DeviceStatus): string {
  if (d.releases.length === 0) return '';
  const cell = (v: number | null) => `<td class="num">${v === null ? '–' : `${v.toFixed(2)} %`}</td>`;
  const rows = d.releases.map(
    (r) =>
      `<tr><td>${escapeHtml(r.release)}${r.release === d.current ? ' (current)' : ''}</td><td>${escapeHtml(r.lastEvent)}</td>` +
      `<td>${escapeHtml(r.time)}</td>${cell(r.top1)}${cell(r.agreement)}<td>${r.onDevice ? 'yes' : 'pruned'}</td></tr>`,
  );
  return [
    '<table class="releases">',
    '<tr><th>release</th><th>last event</th><th>time (UTC)</th><th>top-1</th><th>agreement</th><th>on device</th></tr>',
    ...rows,
    '</table>',
  ].join('\n');
}

function deviceSection(d: DeviceStatus, index: number): string {
  const state = stateOf(d);
  return [
    `<section class="device ${state}">`,
    `<h2><span class="swatch" style="background:${colourOf(index)}"></span>${escapeHtml(d.host)} <span class="badge">${BADGE[state]}</span></h2>`,
    deviceTable(d),
    releasesTable(d),
    '</section>',
  ].join('\n');
}

function plotSection(devices: DeviceStatus[]): string {
  const svg = accuracyPlotSvg(devices);
  if (svg === null) return '<p>No release has accuracy measured at deploy yet.</p>';
  // Devices keep their colour (their section shows it too); those without a point stay out of the legend.
  const legend = devices.flatMap((d, i) =>
    d.releases.some((r) => r.deployedAt !== null && (r.top1 !== null || r.agreement !== null))
      ? [`<span><span class="swatch" style="background:${colourOf(i)}"></span>${escapeHtml(d.host)}</span>`]
      : [],
  );
  return [
    '<section>',
    '<h2>Accuracy per release</h2>',
    svg,
    `<div class="legend">${legend.join('')}<span>● top-1 on the labelled golden set</span><span>□ top-1 agreement with fp32</span></div>`,
    '</section>',
  ].join('\n');
}

export function statusHtml(devices: DeviceStatus[]): string {
  const counts = (state: DeviceState) => devices.filter((d) => stateOf(d) === state).length;
  const summary = `${devices.length} device${devices.length === 1 ? '' : 's'}: ${counts('pass')} passing, ${counts('fail')} failing, ${counts('unreachable')} unreachable, ${counts('unverified')} never verified`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>effnet-edge fleet status</title><style>${STYLE}</style></head>`,
    '<body>',
    '<h1>Fleet status</h1>',
    `<p class="summary">${summary}</p>`,
    plotSection(devices),
    ...devices.map(deviceSection),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
