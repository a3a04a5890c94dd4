/** The images whose top-1 changed under int8: a thumbnail each with both models' top-3, and the paired counts. */
import { pairedText } from '../paired.js';
import { escapeHtml, fixed, omittedHtml, sectionHtml } from './html.js';
import type { ClassScore, FlippedImage, ReportAccuracy, ReportPredictions } from './input.js';

const KIND_CLASS: Record<FlippedImage['kind'], string> = { 'right→wrong': 'rw', 'wrong→right': 'wr', changed: 'ww' };

const topList = (scores: readonly ClassScore[]) =>
  `<ol>${scores.map((s) => `<li>${escapeHtml(s.name)} ${fixed(s.percent, 1)} %</li>`).join('')}</ol>`;

function thumbnailHtml(image: FlippedImage): string {
  const name = escapeHtml(image.name);
  if (image.thumbnail === null) return `<span class="nothumb" title="${name}">could not be read again</span>`;
  return `<img src="${image.thumbnail}" alt="${name}" title="${name}">`;
}

function flipHtml(image: FlippedImage): string {
  const label = image.label === null ? 'unlabelled' : `label ${escapeHtml(image.label)}`;
  return (
    `<div class="flip ${KIND_CLASS[image.kind]}">${thumbnailHtml(image)}` +
    `<div><b>${escapeHtml(image.kind)}</b> · ${label}<br><span class="name">${escapeHtml(image.name)}</span>` +
    `<div style="display:flex;gap:8px"><div>fp32${topList(image.fp32)}</div><div>int8${topList(image.int8)}</div></div></div></div>`
  );
}

export function flippedSectionHtml(options: {
  predictions?: ReportPredictions | undefined;
  accuracy?: ReportAccuracy | undefined;
}): string {
  const { predictions, accuracy } = options;
  const heading = 'Images whose top-1 changed under int8';
  if (!predictions)
    return omittedHtml({
      id: 'flipped',
      heading,
      why: 'No per-image predictions: this run evaluated no images (quantize; run effnet-edge eval --report).',
    });
  const { flipped, flippedTotal } = predictions;
  const images = predictions.labels.length;
  const counts = accuracy?.paired
    ? `<p>${escapeHtml(pairedText(accuracy.paired))}</p>`
    : '<p class="omitted">No right→wrong and wrong→right counts: the images have no labels.</p>';
  if (flippedTotal === 0)
    return sectionHtml({ id: 'flipped', heading, body: `${counts}<p>No image of ${images} changed its top-1.</p>` });
  const more =
    flippedTotal > flipped.length
      ? `; the first ${flipped.length} are shown (right→wrong first, then wrong→right, then the rest, each in dataset order), ${flippedTotal - flipped.length} more are not`
      : '';
  const lead = `<p>${flippedTotal} of ${images} images changed their top-1${more}.</p>`;
  return sectionHtml({
    id: 'flipped',
    heading,
    body: `${counts}${lead}<div class="flips">${flipped.map(flipHtml).join('')}</div>`,
  });
}
