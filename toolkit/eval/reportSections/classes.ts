/**
 * Per class: fp32 vs int8 accuracy with a bar pair each, and int8's confusion matrix as an SVG heat map (row-normalised:
 * a class that collapsed shows as a pale diagonal cell and a dark one elsewhere in its row).
 */
import { escapeHtml, fixed, omittedHtml, sectionHtml } from './html.js';
import type { ReportPredictions } from './input.js';

/** More classes than this (ImageNet's 1000): the ones with the most int8 errors, so the page stays readable. */
export const MAX_CLASSES_SHOWN = 30;

interface ClassRow {
  index: number;
  images: number;
  fp32Right: number;
  int8Right: number;
}

function classRows(predictions: ReportPredictions): ClassRow[] {
  const rows = predictions.classes.map((_, index) => ({ index, images: 0, fp32Right: 0, int8Right: 0 }));
  predictions.labels.forEach((label, i) => {
    const row = rows[label];
    if (!row) return;
    row.images += 1;
    if (predictions.fp32Top1[i] === label) row.fp32Right += 1;
    if (predictions.int8Top1[i] === label) row.int8Right += 1;
  });
  return rows.filter((r) => r.images > 0);
}

/** The classes shown: all when few; else those int8 gets wrong most often, in class order. */
export function shownClasses(rows: readonly ClassRow[]): ClassRow[] {
  if (rows.length <= MAX_CLASSES_SHOWN) return [...rows];
  const errors = (r: ClassRow) => r.images - r.int8Right;
  const worst = [...rows].sort((a, b) => errors(b) - errors(a) || a.index - b.index).slice(0, MAX_CLASSES_SHOWN);
  return worst.sort((a, b) => a.index - b.index);
}

const share = (right: number, images: number) => (100 * right) / images;

/** Points with a sign, as the paired numbers print them (`+0.5`, `−2.0`, `0.0`). */
const signedPoints = (points: number) => {
  const text = fixed(Math.abs(points), 1);
  return Number(text) === 0 ? text : `${points < 0 ? '−' : '+'}${text}`;
};

function classTable(rows: readonly ClassRow[], classes: readonly string[]): string {
  const bar = (value: number, colour: string) =>
    `<span class="bar" style="width:${(value * 1.2).toFixed(1)}px;background:${colour}"></span>`;
  const body = rows.map((r) => {
    const fp32 = share(r.fp32Right, r.images);
    const int8 = share(r.int8Right, r.images);
    const drop = int8 - fp32;
    return (
      `<tr><td class="name">${escapeHtml(classes[r.index]!)}</td><td>${r.images}</td><td>${fixed(fp32, 1)} %</td>` +
      `<td>${fixed(int8, 1)} %</td><td class="${drop <= -5 ? 'fail' : ''}">${signedPoints(drop)}</td>` +
      `<td style="text-align:left;width:130px">${bar(fp32, '#8aa8d8')}<br>${bar(int8, '#2a5ab0')}</td></tr>`
    );
  });
  return (
    '<table><tr><th>class</th><th>images</th><th>fp32</th><th>int8</th><th>points</th>' +
    `<th>fp32 / int8</th></tr>${body.join('')}</table>`
  );
}

/** Counts of (label, int8 top-1) over the shown classes; predictions outside them are left out of the map. */
export function confusionSvg(options: { predictions: ReportPredictions; shown: readonly number[] }): string {
  const { predictions, shown } = options;
  const position = new Map(shown.map((c, i) => [c, i]));
  const n = shown.length;
  const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  predictions.labels.forEach((label, i) => {
    const row = position.get(label);
    const column = position.get(predictions.int8Top1[i]!);
    if (row !== undefined && column !== undefined) counts[row]![column]! += 1;
  });
  const names = shown.map((c) => predictions.classes[c]!);
  const cell = n > 12 ? 18 : 34;
  const margin = Math.ceil(6.5 * Math.max(...names.map((s) => s.length))) + 12;
  const size = margin + n * cell;
  const parts: string[] = [];
  names.forEach((name, i) => {
    const middle = margin + i * cell + cell / 2;
    parts.push(`<text x="${margin - 6}" y="${middle + 4}" text-anchor="end">${escapeHtml(name)}</text>`);
    parts.push(`<text transform="translate(${middle + 4},${margin - 6}) rotate(-90)">${escapeHtml(name)}</text>`);
  });
  counts.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((value, c) => {
      const level = value / total;
      const fill = `rgb(${Math.round(255 - 215 * level)},${Math.round(255 - 165 * level)},${Math.round(255 - 55 * level)})`;
      const title = `${names[r]} → ${names[c]}: ${value} (${fixed(100 * level, 1)} %)`;
      parts.push(
        `<rect class="cell" x="${margin + c * cell}" y="${margin + r * cell}" width="${cell - 1}" height="${cell - 1}" fill="${fill}"><title>${escapeHtml(title)}</title></rect>`,
      );
      if (cell > 20 && value > 0)
        parts.push(
          `<text x="${margin + c * cell + cell / 2}" y="${margin + r * cell + cell / 2 + 4}" text-anchor="middle" fill="${level > 0.5 ? '#fff' : '#222'}">${value}</text>`,
        );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-size="11" font-family="sans-serif">${parts.join('')}</svg>`;
}

export function classesSectionHtml(predictions: ReportPredictions | undefined): string {
  const heading = 'Per class: fp32 vs int8, and int8’s confusion matrix';
  if (!predictions)
    return omittedHtml({ id: 'classes', heading, why: 'No per-class numbers: this run evaluated no images.' });
  const rows = classRows(predictions);
  if (rows.length === 0 || predictions.labels.some((l) => l < 0))
    return omittedHtml({
      id: 'classes',
      heading,
      why: 'No per-class numbers: the evaluation images have no labels (give class sub-folders, --labels or --class-index).',
    });
  const shown = shownClasses(rows);
  const limited =
    shown.length < rows.length
      ? `<p>The ${shown.length} classes int8 gets wrong most often, of ${rows.length}.</p>`
      : '';
  const matrix =
    '<p>Rows: the label; columns: int8’s top-1; darker is a larger share of the row. A class that collapsed has a ' +
    `pale diagonal cell and a dark one elsewhere in its row.</p>${confusionSvg({ predictions, shown: shown.map((r) => r.index) })}`;
  return sectionHtml({ id: 'classes', heading, body: `${limited}${classTable(shown, predictions.classes)}${matrix}` });
}
