/**
 * A self-contained HTML report (inline CSS and SVG, no scripts, no network, no timestamps: the same inputs give the
 * same bytes): warnings, accuracy table with the paired top-1 numbers, per-tensor SQNR chart, layer sensitivity
 * chart and calibrator scores when known.
 */
import { pairedText, type PairedTop1 } from './paired.js';

export interface ReportInput {
  title: string;
  accuracy?: {
    fp32: { top1: number | null; top5: number | null };
    int8: { top1: number | null; top5: number | null };
    agreement: number;
    cosine: number;
    images: number;
    /** fp32 vs int8 top-1 as paired data; absent or null on unlabelled images. */
    paired?: PairedTop1 | null;
  };
  /** Evaluation warnings (eval/warnings.ts), shown first. */
  warnings?: string[];
  /** SQNR in dB per quantized tensor, in graph order. */
  sqnr?: { tensor: string; sqnrDb: number }[];
  /** Logit cosine to fp32 with one layer quantized, most sensitive first. */
  sensitivities?: { node: string; cosine: number; agreement: number }[];
  calibratorScores?: { label: string; cosine: number; agreement: number }[];
  notes?: string[];
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const percent = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)} %`);

/** Horizontal bar chart: one labelled bar per row, value printed at the end of the bar. */
export function barChartSvg(options: {
  rows: { label: string; value: number }[];
  unit: string;
  max?: number;
  width?: number;
}): string {
  const rowHeight = 16;
  const maxChars = 56;
  const labels = options.rows.map((r) => (r.label.length > maxChars ? `…${r.label.slice(-(maxChars - 1))}` : r.label));
  // 11 px monospace is about 6.7 px a character.
  const labelWidth = Math.ceil(6.7 * Math.max(8, ...labels.map((l) => l.length))) + 10;
  const barSpace = 360;
  const width = options.width ?? labelWidth + barSpace + 90;
  const finite = options.rows.map((r) => (Number.isFinite(r.value) ? r.value : 0));
  const max = options.max ?? Math.max(1e-9, ...finite);
  const height = rowHeight * options.rows.length + 4;
  const bars = options.rows.map((row, i) => {
    const value = Number.isFinite(row.value) ? row.value : max;
    const length = Math.max(0, (barSpace * value) / max);
    const y = i * rowHeight + 2;
    const label = labels[i]!;
    const shown = Number.isFinite(row.value) ? row.value.toFixed(options.unit === 'dB' ? 1 : 4) : '∞';
    return (
      `<text x="${labelWidth - 6}" y="${y + 11}" text-anchor="end">${escapeHtml(label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 2}" width="${length.toFixed(1)}" height="${rowHeight - 4}" fill="#4a7bd0"/>` +
      `<text x="${(labelWidth + length + 4).toFixed(1)}" y="${y + 11}">${shown} ${escapeHtml(options.unit)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-size="11" font-family="monospace">${bars.join('')}</svg>`;
}

export function htmlReport(input: ReportInput): string {
  const sections: string[] = [];
  if (input.warnings?.length)
    sections.push(`<h2>Warnings</h2><ul>${input.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`);
  if (input.accuracy) {
    const a = input.accuracy;
    sections.push(
      `<h2>Accuracy (${a.images} images)</h2><table><tr><th></th><th>fp32</th><th>int8</th></tr>` +
        `<tr><td>top-1</td><td>${percent(a.fp32.top1)}</td><td>${percent(a.int8.top1)}</td></tr>` +
        `<tr><td>top-5</td><td>${percent(a.fp32.top5)}</td><td>${percent(a.int8.top5)}</td></tr></table>` +
        (a.paired
          ? `<p>${escapeHtml(pairedText(a.paired))}; McNemar exact p ${a.paired.mcnemarP.toFixed(3)}</p>`
          : '') +
        `<p>top-1 agreement ${a.agreement.toFixed(2)} %, mean logit cosine ${a.cosine.toFixed(5)}</p>`,
    );
  }
  if (input.calibratorScores?.length) {
    sections.push(
      `<h2>Calibrators (logit cosine to fp32)</h2>${barChartSvg({ rows: input.calibratorScores.map((s) => ({ label: `${s.label} (agreement ${s.agreement.toFixed(1)} %)`, value: s.cosine })), unit: '', max: 1 })}`,
    );
  }
  if (input.sqnr?.length) {
    sections.push(
      `<h2>SQNR per quantized tensor (int8 graph vs fp32, dB)</h2>${barChartSvg({ rows: input.sqnr.map((l) => ({ label: l.tensor, value: l.sqnrDb })), unit: 'dB' })}`,
    );
  }
  if (input.sensitivities?.length) {
    sections.push(
      `<h2>Layer sensitivity (1 − logit cosine with only this layer quantized)</h2>${barChartSvg({ rows: input.sensitivities.map((s) => ({ label: s.node, value: 1 - s.cosine })), unit: '' })}`,
    );
  }
  if (input.notes?.length)
    sections.push(`<h2>Notes</h2><ul>${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title><style>` +
    'body{font-family:sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}' +
    'h2{margin-top:1.6em}' +
    `</style></head><body><h1>${escapeHtml(input.title)}</h1>${sections.join('\n')}</body></html>\n`
  );
}
