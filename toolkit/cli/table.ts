/** Plain-text tables: right-aligned numbers, left-aligned text, two spaces between columns. */

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Longer cells are cut to this many characters, the last one an ellipsis, so one long name cannot push the others. */
  maxWidth?: number;
}

/** Class names and other free text are cut here by callers that show them in columns (run's top-k). */
export const NAME_COLUMN_WIDTH = 32;

/** `text` in at most `maxWidth` characters (code points): cut with a trailing `…` when longer. */
export function truncated(text: string, maxWidth: number): string {
  const characters = Array.from(text);
  return characters.length <= maxWidth ? text : `${characters.slice(0, Math.max(0, maxWidth - 1)).join('')}…`;
}

/** Padding counted in code points, so an ellipsis or an accented name lines up like ASCII. */
function padded(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - Array.from(text).length));
  return align === 'right' ? fill + text : text + fill;
}

/** Each string padded to the longest of them (left-aligned), after cutting at `maxWidth`: one aligned column. */
export function alignedColumn(texts: readonly string[], maxWidth: number): string[] {
  const cut = texts.map((text) => truncated(text, maxWidth));
  const width = Math.max(0, ...cut.map((text) => Array.from(text).length));
  return cut.map((text) => padded(text, width, 'left'));
}

export function formatTable(columns: Column[], rows: (string | number)[][]): string {
  const cells = rows.map((row) =>
    row.map((cell, i) => {
      const text = typeof cell === 'number' ? formatInteger(cell) : cell;
      const maxWidth = columns[i]?.maxWidth;
      return maxWidth === undefined ? text : truncated(text, maxWidth);
    }),
  );
  const length = (text: string) => Array.from(text).length;
  const widths = columns.map((c, i) => Math.max(length(c.header), ...cells.map((r) => length(r[i] ?? ''))));
  const line = (row: string[]) =>
    row
      .map((cell, i) => padded(cell, widths[i]!, columns[i]!.align ?? 'left'))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}

/** 5288548 → "5,288,548"; non-integers keep up to 4 significant decimals. */
export function formatInteger(value: number): string {
  if (!Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
