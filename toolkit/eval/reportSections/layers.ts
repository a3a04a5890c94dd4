/**
 * SQNR per quantized tensor, grouped by MBConv block (stem, block N.M, head) with the full tensor names, each bar
 * coloured by range, and the reason the deepest stages read near 0 dB.
 */
import { decibels, escapeHtml, omittedHtml, sectionHtml } from './html.js';

/** At or above: fine. Below POOR_DB: poor. In between: low. */
export const FINE_DB = 20;
export const POOR_DB = 10;

/** The bars' full width (BAR_PX) is this many dB (an input reproduced to 8 bits is about 45 dB). */
const SCALE_DB = 50;
const BAR_PX = 150;

/**
 * Measured on the CIFAR-10 fixture's int8 bundle (jetson-orin-nano, percentile 99.9 with the range search) over 128
 * test images: in features.5–7, 0.1–0.7 % of the values lie beyond the calibrated range (up to 16× it) and carry
 * 95–100 % of the error energy; inside the range the same tensors keep 1–16 dB, the SE gates' Sigmoid outputs
 * 17–28 dB, and the logits stay at cosine 0.993. The gates' inputs are not saturated (|x| > 4 on about 1 % of them),
 * so the page does not claim that.
 */
export const LOW_SQNR_EXPLANATION =
  'Why the deepest blocks read near 0 dB: the calibrator clips rare outliers on purpose (a percentile range), and ' +
  'in the last stages a few values far above the range (under 1 % of them, up to 16× the range on the CIFAR-10 ' +
  'fixture) carry nearly all of the error energy, so the whole tensor’s SQNR falls near 0 dB while the values ' +
  'inside the range keep their precision and the SE gates (Sigmoid outputs) stay above 15 dB. SQNR here is the int8 ' +
  'graph against fp32 at the same tensor, so it also carries every earlier block’s error. What decides is the end ' +
  'result: the top-1 agreement and logit cosine above; effnet-edge quantize --max-drop keeps the most sensitive ' +
  'layers in float when they are not good enough.';

/** The MBConv block a tensor belongs to, from torchvision (`features.N.M`) or timm (`blocks.N.M`) names. */
export function blockOf(tensor: string): string {
  const block = /(?:features|blocks)[._](\d+)[._](\d+)/.exec(tensor.replace(/\/features[._]\d+\//g, '/'));
  if (block && !(tensor.includes('features') && (block[1] === '0' || block[1] === '8')))
    return `block ${block[1]}.${block[2]}`;
  if (tensor === 'input' || /features[._]0\b|conv_stem|bn1|stem/.test(tensor)) return 'stem';
  return 'head';
}

export type SqnrClass = 'fine' | 'low' | 'poor';

export function sqnrClassOf(db: number): SqnrClass {
  if (!(db < FINE_DB)) return 'fine';
  return db < POOR_DB ? 'poor' : 'low';
}

function rowHtml(layer: { tensor: string; sqnrDb: number }): string {
  const kind = sqnrClassOf(layer.sqnrDb);
  const shown = Number.isFinite(layer.sqnrDb) ? Math.max(0, Math.min(SCALE_DB, layer.sqnrDb)) : SCALE_DB;
  const width = ((BAR_PX * shown) / SCALE_DB).toFixed(1);
  return (
    `<tr><td class="name">${escapeHtml(layer.tensor)}</td><td>${decibels(layer.sqnrDb)}</td>` +
    `<td style="text-align:left;white-space:nowrap"><span class="bar ${kind}" style="width:${width}px"></span> ${kind}</td></tr>`
  );
}

export function layersSectionHtml(sqnr: readonly { tensor: string; sqnrDb: number }[] | undefined): string {
  const heading = 'SQNR per quantized tensor (int8 graph vs fp32)';
  if (!sqnr?.length)
    return omittedHtml({
      id: 'layers',
      heading,
      why: 'No per-tensor SQNR: it needs an evaluation of the int8 graph against fp32 (build or eval --report).',
    });
  const rows: string[] = [];
  let group: string | null = null;
  for (const layer of sqnr) {
    const block = blockOf(layer.tensor);
    if (block !== group) rows.push(`<tr class="group"><td colspan="3">${escapeHtml(block)}</td></tr>`);
    group = block;
    rows.push(rowHtml(layer));
  }
  const counts = (kind: SqnrClass) => sqnr.filter((l) => sqnrClassOf(l.sqnrDb) === kind).length;
  const legend =
    `<p>Fine ≥ ${FINE_DB} dB: ${counts('fine')}, low ${POOR_DB}–${FINE_DB} dB: ${counts('low')}, ` +
    `poor &lt; ${POOR_DB} dB: ${counts('poor')} of ${sqnr.length} tensors.</p>`;
  const explanation = counts('poor') ? `<p class="note">${escapeHtml(LOW_SQNR_EXPLANATION)}</p>` : '';
  const table = `<table><tr><th>tensor</th><th>SQNR</th><th>0–${SCALE_DB} dB</th></tr>${rows.join('')}</table>`;
  return sectionHtml({ id: 'layers', heading, body: `${legend}${explanation}${table}` });
}
