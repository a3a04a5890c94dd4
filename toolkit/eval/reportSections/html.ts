/** The report's HTML building blocks: escaping, number formats and the one shape every section has. */

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const percent = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)} %`);

/** A fixed-decimals number that never prints as `-0.0`: a value that rounds to zero is zero. */
export function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** SQNR in dB; an exactly reproduced tensor is ∞. */
export const decibels = (value: number) => (Number.isFinite(value) ? `${fixed(value, 1)} dB` : '∞ dB');

/** Every section: an id to link to, a heading, and either its content or one line saying why it has none. */
export function sectionHtml(options: { id: string; heading: string; body: string }): string {
  return `<section id="${options.id}"><h2>${escapeHtml(options.heading)}</h2>${options.body}</section>`;
}

export function omittedHtml(options: { id: string; heading: string; why: string }): string {
  return sectionHtml({ ...options, body: `<p class="omitted">${escapeHtml(options.why)}</p>` });
}

/** Passing and failing numbers, and the SQNR ranges, share these colours (with text, never colour alone). */
export const REPORT_CSS =
  'body{font-family:sans-serif;margin:2em;max-width:1040px;color:#222}' +
  'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}' +
  'th{background:#f3f3f3}td.name{text-align:left;font-family:monospace;word-break:break-all}' +
  'h2{margin-top:1.6em;border-bottom:1px solid #ddd}p.omitted{color:#666;font-style:italic}' +
  '.pass{background:#dcf2dc}.fail{background:#f8d4d4}.note{color:#444}' +
  '.fine{background:#4a9a4a}.low{background:#d8a020}.poor{background:#c83c3c}' +
  '.bar{height:10px;display:inline-block;vertical-align:middle}' +
  '.flips{display:flex;flex-wrap:wrap;gap:8px}.flip{display:flex;gap:6px;border:1px solid #ddd;padding:4px;' +
  'width:320px;font-size:12px}.flip img,.nothumb{width:64px;height:64px;flex:none;image-rendering:pixelated}' +
  '.nothumb{background:#eee;color:#666;font-size:10px;text-align:center}' +
  '.flip ol{margin:0;padding-left:1.4em}.rw{border-left:4px solid #c83c3c}.wr{border-left:4px solid #4a9a4a}' +
  '.ww{border-left:4px solid #999}tr.group td{background:#eef;text-align:left;font-weight:bold}';
