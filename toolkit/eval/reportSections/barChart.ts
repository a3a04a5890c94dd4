/** A horizontal SVG bar chart: one bar per row, its full label on the left, the value at the end of the bar. */
import { escapeHtml, fixed } from './html.js';

export function barChartSvg(options: {
  rows: { label: string; value: number }[];
  unit: string;
  max?: number;
  width?: number;
}): string {
  const rowHeight = 16;
  // 11 px monospace is about 6.7 px a character; labels are never cut (the reader needs the whole name).
  const labelWidth = Math.ceil(6.7 * Math.max(8, ...options.rows.map((r) => r.label.length))) + 10;
  const barSpace = 360;
  const width = options.width ?? labelWidth + barSpace + 90;
  const finite = options.rows.map((r) => (Number.isFinite(r.value) ? r.value : 0));
  const max = options.max ?? Math.max(1e-9, ...finite);
  const height = rowHeight * options.rows.length + 4;
  const bars = options.rows.map((row, i) => {
    const value = Number.isFinite(row.value) ? row.value : max;
    const length = Math.max(0, (barSpace * value) / max);
    const y = i * rowHeight + 2;
    const shown = Number.isFinite(row.value) ? fixed(row.value, options.unit === 'dB' ? 1 : 4) : '∞';
    return (
      `<text x="${labelWidth - 6}" y="${y + 11}" text-anchor="end">${escapeHtml(row.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 2}" width="${length.toFixed(1)}" height="${rowHeight - 4}" fill="#4a7bd0"/>` +
      `<text x="${(labelWidth + length + 4).toFixed(1)}" y="${y + 11}">${shown} ${escapeHtml(options.unit)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-size="11" font-family="monospace">${bars.join('')}</svg>`;
}
