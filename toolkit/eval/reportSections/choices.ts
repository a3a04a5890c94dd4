/** How the int8 graph was made: every calibrator tried with its score, and each layer's sensitivity when measured. */
import { barChartSvg } from './barChart.js';
import { escapeHtml, fixed, omittedHtml, sectionHtml } from './html.js';
import type { ReportInput } from './input.js';

export function calibratorsSectionHtml(calibrators: ReportInput['calibrators']): string {
  const heading = 'Calibrators tried';
  if (!calibrators?.scores.length)
    return omittedHtml({
      id: 'calibrators',
      heading,
      why: 'No calibrator was chosen on data in this run (a fixed --method, or eval of a given int8 model).',
    });
  const lines = calibrators.scores.map((s) => {
    const chosen = s.label === calibrators.chosen;
    const text = `${s.label}: logit cosine to fp32 ${fixed(s.cosine, 5)}, top-1 agreement ${fixed(s.agreement, 2)} %`;
    return `<li${chosen ? ' class="pass"' : ''}>${escapeHtml(text)}${chosen ? ' — <b>chosen</b>' : ''}</li>`;
  });
  return sectionHtml({
    id: 'calibrators',
    heading,
    body: `<p>Each calibrator’s int8 logits against fp32 on the selection images; the closest wins.</p><ul>${lines.join('')}</ul>`,
  });
}

export function sensitivitySectionHtml(sensitivities: ReportInput['sensitivities']): string {
  if (!sensitivities?.length) return '';
  const chart = barChartSvg({ rows: sensitivities.map((s) => ({ label: s.node, value: 1 - s.cosine })), unit: '' });
  return sectionHtml({
    id: 'sensitivity',
    heading: 'Layer sensitivity (1 − logit cosine with only this layer quantized)',
    body: chart,
  });
}

/** Notes in the order given, each once (passes and the calibrator line can repeat the same sentence). */
export function notesSectionHtml(notes: readonly string[] | undefined): string {
  const unique = [...new Set(notes ?? [])];
  if (!unique.length) return '';
  return sectionHtml({
    id: 'notes',
    heading: 'Notes',
    body: `<ul>${unique.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`,
  });
}
