/** Test points of a TAP 14 document from the device (top level only), with their YAML diagnostics parsed. */
import { parse } from 'yaml';

export interface TapPoint {
  ok: boolean;
  name: string;
  skip: string | null;
  diag: Record<string, unknown> | null;
}

export function testPointsFromTap(text: string): TapPoint[] {
  const points: TapPoint[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^(not ok|ok)\b(?:\s+\d+)?(?:\s+-)?\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    let description = match[2]!;
    let skip: string | null = null;
    const directive = /\s#\s*SKIP\b\s*(.*)$/i.exec(description);
    if (directive) {
      skip = directive[1]!.trim();
      description = description.slice(0, directive.index);
    }
    const name = description.replace(/\\([#\\])/g, '$1').trim();
    let diag: Record<string, unknown> | null = null;
    if (lines[i + 1] === '  ---') {
      const end = lines.indexOf('  ...', i + 2);
      if (end > 0) {
        try {
          diag = parse(lines.slice(i + 2, end).map((l) => l.slice(2)).join('\n')) as Record<string, unknown>;
        } catch {
          diag = null;
        }
        i = end;
      }
    }
    points.push({ ok: match[1] === 'ok', name, skip, diag });
  }
  return points;
}
