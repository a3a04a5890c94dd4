/** Accuracy and the device thresholds: each number the devices are held to, green where it meets every bound. */
import { pairedText } from '../paired.js';
import { escapeHtml, omittedHtml, percent, sectionHtml } from './html.js';
import type { ReportAccuracy, ReportThreshold } from './input.js';

type Measure = 'top1' | 'agreement' | 'cosine';

/** The measured value and the bound of one runtime for it (null: that runtime has no such bound). */
function boundOf(threshold: ReportThreshold, measure: Measure): number | null {
  if (measure === 'top1') return threshold.minTop1;
  return measure === 'agreement' ? threshold.minAgreement : threshold.minCosine;
}

function measuredValue(accuracy: ReportAccuracy, measure: Measure): number | null {
  if (measure === 'top1') return accuracy.int8.top1;
  return measure === 'agreement' ? accuracy.agreement : accuracy.cosine;
}

/** A cell coloured against every runtime's bound; the tooltip names the bounds. */
function judgedCell(options: { text: string; value: number | null; bounds: number[] }): string {
  const { value, bounds } = options;
  if (value === null || bounds.length === 0) return `<td>${options.text}</td>`;
  const pass = bounds.every((bound) => value >= bound);
  const title = `${pass ? 'meets' : 'below'} the device threshold${bounds.length > 1 ? 's' : ''} ≥ ${bounds.join(', ')}`;
  return `<td class="${pass ? 'pass' : 'fail'}" title="${escapeHtml(title)}">${options.text}</td>`;
}

function accuracyTable(accuracy: ReportAccuracy, thresholds: readonly ReportThreshold[]): string {
  const bounds = (measure: Measure) =>
    thresholds.map((t) => boundOf(t, measure)).filter((b): b is number => b !== null);
  const judged = (measure: Measure, text: string) =>
    judgedCell({ text, value: measuredValue(accuracy, measure), bounds: bounds(measure) });
  return (
    '<table><tr><th></th><th>fp32</th><th>int8</th></tr>' +
    `<tr><td>top-1</td><td>${percent(accuracy.fp32.top1)}</td>${judged('top1', percent(accuracy.int8.top1))}</tr>` +
    `<tr><td>top-5</td><td>${percent(accuracy.fp32.top5)}</td><td>${percent(accuracy.int8.top5)}</td></tr>` +
    `<tr><td>top-1 agreement with fp32</td><td></td>${judged('agreement', percent(accuracy.agreement))}</tr>` +
    `<tr><td>mean logit cosine to fp32</td><td></td>${judged('cosine', accuracy.cosine.toFixed(5))}</tr></table>`
  );
}

/** One row per runtime: its bounds, each green or red against the evaluation's value. */
function thresholdTable(accuracy: ReportAccuracy, thresholds: readonly ReportThreshold[]): string {
  const rows = thresholds.map((t) => {
    const cell = (measure: Measure, text: (bound: number) => string) => {
      const bound = boundOf(t, measure);
      if (bound === null) return '<td>—</td>';
      return judgedCell({ text: text(bound), value: measuredValue(accuracy, measure), bounds: [bound] });
    };
    return (
      `<tr><td class="name">${escapeHtml(t.runtime)}</td>${cell('top1', (b) => `≥ ${b} %`)}` +
      `${cell('agreement', (b) => `≥ ${b} %`)}${cell('cosine', (b) => `≥ ${b}`)}</tr>`
    );
  });
  return (
    '<p>The bounds each device runtime must meet on the golden set (manifest.json), against this evaluation: ' +
    'green meets the bound, red does not.</p><table><tr><th>runtime</th><th>top-1</th><th>agreement</th>' +
    `<th>logit cosine</th></tr>${rows.join('')}</table>`
  );
}

export function accuracySectionHtml(options: {
  accuracy?: ReportAccuracy | undefined;
  thresholds?: readonly ReportThreshold[] | undefined;
}): string {
  const { accuracy } = options;
  const heading = accuracy ? `Accuracy (${accuracy.images} images)` : 'Accuracy';
  if (!accuracy)
    return omittedHtml({
      id: 'accuracy',
      heading,
      why: 'No evaluation in this run: quantize measures no accuracy; effnet-edge eval --report does.',
    });
  const thresholds = options.thresholds ?? [];
  const paired = accuracy.paired
    ? `<p>${escapeHtml(pairedText(accuracy.paired))}; McNemar exact p ${accuracy.paired.mcnemarP.toFixed(3)}</p>`
    : '<p class="omitted">No paired top-1 numbers: the evaluation images have no labels.</p>';
  const against = thresholds.length
    ? thresholdTable(accuracy, thresholds)
    : '<p class="omitted">No device thresholds: build sets them from its golden set; eval and quantize have none.</p>';
  return sectionHtml({ id: 'accuracy', heading, body: `${accuracyTable(accuracy, thresholds)}${paired}${against}` });
}
