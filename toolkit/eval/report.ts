/**
 * A self-contained HTML report (inline CSS, SVG and JPEG thumbnails as data: URIs; no scripts, no network, no
 * timestamps: the same inputs give the same bytes). The same page for build, `eval --report` and `quantize
 * --report`: each section is there or says in one line why it is not.
 */
import { accuracySectionHtml } from './reportSections/accuracy.js';
import { calibratorsSectionHtml, notesSectionHtml, sensitivitySectionHtml } from './reportSections/choices.js';
import { classesSectionHtml } from './reportSections/classes.js';
import { flippedSectionHtml } from './reportSections/flipped.js';
import { escapeHtml, REPORT_CSS, sectionHtml } from './reportSections/html.js';
import type { ReportInput } from './reportSections/input.js';
import { layersSectionHtml } from './reportSections/layers.js';

export { barChartSvg } from './reportSections/barChart.js';
export type { ReportInput } from './reportSections/input.js';

/** The sections every page has, in order (sensitivity and notes only when there are any). */
export const REPORT_SECTION_IDS = ['accuracy', 'flipped', 'classes', 'layers', 'calibrators'] as const;

export function htmlReport(input: ReportInput): string {
  const sections: string[] = [];
  if (input.warnings?.length)
    sections.push(
      sectionHtml({
        id: 'warnings',
        heading: 'Warnings',
        body: `<ul>${input.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`,
      }),
    );
  sections.push(accuracySectionHtml({ accuracy: input.accuracy, thresholds: input.thresholds }));
  sections.push(flippedSectionHtml({ predictions: input.predictions, accuracy: input.accuracy }));
  sections.push(classesSectionHtml(input.predictions));
  sections.push(layersSectionHtml(input.sqnr));
  sections.push(calibratorsSectionHtml(input.calibrators));
  sections.push(sensitivitySectionHtml(input.sensitivities));
  sections.push(notesSectionHtml(input.notes));
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>` +
    `<style>${REPORT_CSS}</style></head><body><h1>${escapeHtml(input.title)}</h1>` +
    `${sections.filter((s) => s !== '').join('\n')}</body></html>\n`
  );
}
