/**
 * The fleet page's plot: accuracy measured at deploy (top-1 and fp32 agreement, %) against deploy time, every device
 * overlaid in its own colour, one marker per release (circle: top-1, square: agreement). Pure SVG, same input, same bytes.
 */
import type { DeviceStatus } from '../deploy/fleetStatus.js';

/** Colour-blind-safe hues, none of them the page's pass green or fail red. */
const DEVICE_COLOURS = ['#0072b2', '#e69f00', '#cc79a7', '#56b4e9', '#7f5a00', '#6a3d9a', '#009e73', '#999933'];

const WIDTH = 760;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 20, top: 20, bottom: 56 };

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function colourOf(index: number): string {
  return DEVICE_COLOURS[index % DEVICE_COLOURS.length]!;
}

interface PlotPoint {
  device: number;
  host: string;
  release: string;
  time: number;
  iso: string;
  metric: 'top1' | 'agreement';
  value: number;
}

function pointsOf(devices: DeviceStatus[]): PlotPoint[] {
  return devices.flatMap((d, device) =>
    d.releases.flatMap((r) => {
      if (r.deployedAt === null) return [];
      const time = Date.parse(r.deployedAt);
      if (!Number.isFinite(time)) return [];
      const base = { device, host: d.host, release: r.release, time, iso: r.deployedAt };
      return [
        ...(r.top1 === null ? [] : [{ ...base, metric: 'top1' as const, value: r.top1 }]),
        ...(r.agreement === null ? [] : [{ ...base, metric: 'agreement' as const, value: r.agreement }]),
      ];
    }),
  );
}

/** `2026-12-04T21:09:33.000Z` → `2026-12-04 21:09` (UTC, as the release log writes it). */
const minuteOf = (time: number) => new Date(time).toISOString().slice(0, 16).replace('T', ' ');

function scales(points: PlotPoint[]) {
  const times = points.map((p) => p.time);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  // Whole 5 % steps below the lowest point, to 100 %: a drop of a point or two stays visible.
  const low = Math.max(0, Math.floor((Math.min(...points.map((p) => p.value)) - 1) / 5) * 5);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  return {
    low,
    t0,
    t1,
    x: (t: number) => MARGIN.left + (t1 === t0 ? plotWidth / 2 : ((t - t0) / (t1 - t0)) * plotWidth),
    y: (v: number) => MARGIN.top + ((100 - v) / (100 - low || 1)) * plotHeight,
  };
}

function axes(s: ReturnType<typeof scales>): string[] {
  const step = 100 - s.low > 30 ? 10 : 5;
  const ticks: string[] = [];
  for (let v = s.low; v <= 100; v += step) {
    ticks.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${s.y(v).toFixed(1)}" y2="${s.y(v).toFixed(1)}"/>`,
      `<text class="tick" x="${MARGIN.left - 6}" y="${(s.y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
  const times = s.t0 === s.t1 ? [s.t0] : [s.t0, (s.t0 + s.t1) / 2, s.t1];
  for (const t of times) {
    const anchor = s.t0 === s.t1 ? 'middle' : t === s.t0 ? 'start' : t === s.t1 ? 'end' : 'middle';
    ticks.push(
      `<text class="tick" x="${s.x(t).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="${anchor}">${minuteOf(t)}</text>`,
    );
  }
  const bottom = HEIGHT - MARGIN.bottom;
  return [
    ...ticks,
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${bottom}" y2="${bottom}"/>`,
    `<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}"/>`,
    `<text class="label" x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">deploy time (UTC)</text>`,
    `<text class="label" transform="translate(16 ${(MARGIN.top + bottom) / 2}) rotate(-90)" text-anchor="middle">accuracy at deploy (%)</text>`,
  ];
}

function marker(p: PlotPoint, s: ReturnType<typeof scales>): string {
  const [x, y] = [s.x(p.time), s.y(p.value)];
  const title = `<title>${escapeHtml(`${p.host} · ${p.release} · ${p.metric === 'top1' ? 'top-1' : 'agreement'} ${p.value.toFixed(2)} % · deployed ${p.iso}`)}</title>`;
  const colour = colourOf(p.device);
  return p.metric === 'top1'
    ? `<circle class="point top1" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="5" fill="${colour}">${title}</circle>`
    : `<rect class="point agreement" x="${(x - 4.5).toFixed(1)}" y="${(y - 4.5).toFixed(1)}" width="9" height="9" fill="none" stroke="${colour}" stroke-width="2">${title}</rect>`;
}

/** One line per device and metric through its releases in deploy order. */
function lines(points: PlotPoint[], s: ReturnType<typeof scales>): string[] {
  const series = new Map<string, PlotPoint[]>();
  for (const p of points) series.set(`${p.device} ${p.metric}`, [...(series.get(`${p.device} ${p.metric}`) ?? []), p]);
  return [...series.values()]
    .filter((ps) => ps.length > 1)
    .map((ps) => {
      const path = [...ps]
        .sort((a, b) => a.time - b.time)
        .map((p) => `${s.x(p.time).toFixed(1)},${s.y(p.value).toFixed(1)}`);
      const dash = ps[0]!.metric === 'agreement' ? ' stroke-dasharray="5 4"' : '';
      return `<polyline points="${path.join(' ')}" fill="none" stroke="${colourOf(ps[0]!.device)}" stroke-width="1.5"${dash}/>`;
    });
}

/** The plot as one <svg>, or null when no release has accuracy measured at deploy. */
export function accuracyPlotSvg(devices: DeviceStatus[]): string | null {
  const points = pointsOf(devices);
  if (points.length === 0) return null;
  const s = scales(points);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="accuracy at deploy per release over time">`,
    ...axes(s),
    ...lines(points, s),
    ...points.map((p) => marker(p, s)),
    '</svg>',
  ].join('\n');
}
