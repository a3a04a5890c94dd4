/** Plain-text tables: right-aligned numbers, left-aligned text, two spaces between columns. */

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

export function formatTable(columns: Column[], rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatInteger(cell) : cell)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}

/** 5288548 → "5,288,548"; non-integers keep up to 4 significant decimals. */
export function formatInteger(value: number): string {
  if (!Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
