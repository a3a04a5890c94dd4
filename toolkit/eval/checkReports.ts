/** The report formats of `effnet-edge verify`: TAP 14 (one test point per check, YAML diagnostics) and JUnit XML. */
import { Document, parse, visit } from 'yaml';

/**
 * A check's bound as numbers, for scripts: `{ metric: 'agreement', min: 50, unit: '%' }` is the text `>= 50 %`.
 * Exactly one of `min` and `max`; `unit` is '%', 'files' or null (a plain number: cosine, logits).
 */
export interface Bound {
  metric: string;
  min?: number;
  max?: number;
  unit: '%' | 'files' | null;
}

/** The bound and its text, which stays as the table, TAP and JUnit have always worded it (`>= 50 %`, `<= 0.29`). */
export function atLeast(metric: string, min: number, unit: '%' | null): { allowed: string; bound: Bound } {
  return { allowed: `>= ${min}${unit ? ` ${unit}` : ''}`, bound: { metric, min, unit } };
}

export function atMost(metric: string, max: number, unit: '%' | null): { allowed: string; bound: Bound } {
  return { allowed: `<= ${max}${unit ? ` ${unit}` : ''}`, bound: { metric, max, unit } };
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Measured vs allowed, as shown in diagnostics; numbers stay numbers. */
  measured: number | string | null;
  /** The bound as text (table, TAP, JUnit); `bound` is the same as numbers where there is one. */
  allowed: string;
  bound?: Bound;
  details?: Record<string, number | string | boolean | null | (number | string)[]>;
  /** Why the check could not run (e.g. the golden set has no labels); a skipped check is not a failure. */
  skip?: string | null;
  durationMs?: number;
}

/**
 * A TAP line cannot hold a line break, and tap's parser also splits lines at U+2028/U+2029
 * (it matches lines with `.`), so all of them become one space.
 */
const oneLine = (text: string) => text.replace(/[\r\n\u2028\u2029]+/g, ' ');

/** TAP 14 escapes `\` and `#` in descriptions and directive text; parsers unescape both. */
const escaped = (text: string) => oneLine(text).replace(/\\/g, '\\\\').replace(/#/g, '\\#');

/**
 * The yaml library quotes whatever would not read back as the same value (colons, #, leading spaces, …),
 * but leaves U+2028/U+2029 raw, which would end the TAP line; those strings are double-quoted and the
 * characters written as YAML's `\L`/`\P` escapes, which only exist inside double quotes.
 */
function yamlLines(value: Record<string, unknown>): string[] {
  const doc = new Document(value);
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === 'string' && /[\u2028\u2029]/.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc
    .toString({ lineWidth: 0 })
    .replace(/\u2028/g, '\\L')
    .replace(/\u2029/g, '\\P')
    .trimEnd()
    .split('\n');
}

/** The suite verify reports under (TAP comment, JUnit): it names the runtime that ran, which a deploy reads back. */
export function verifySuite(options: { target: string; runtime: string }): string {
  return `effnet-edge verify ${options.target} (${options.runtime})`;
}

/** The runtime a verify TAP stream says it ran (its suite comment), or null. */
export function runtimeOfVerifyTap(tap: string): string | null {
  return /^# effnet-edge verify \S+ \(([\w-]+)\)$/m.exec(tap)?.[1] ?? null;
}

export function tapFrom(options: { suite: string; checks: CheckResult[]; comment?: string[] }): string {
  const lines = [
    'TAP version 14',
    ...(options.comment ?? []).map((c) => `# ${oneLine(c)}`),
    `1..${options.checks.length}`,
  ];
  options.checks.forEach((check, i) => {
    const skip = check.skip ? ` # SKIP ${escaped(check.skip)}` : '';
    lines.push(`${check.ok ? 'ok' : 'not ok'} ${i + 1} - ${escaped(check.name)}${skip}`);
    const diag = {
      measured: check.measured,
      allowed: check.allowed,
      ...(check.bound ? { bound: check.bound } : {}),
      ...(check.durationMs !== undefined ? { duration_ms: round3(check.durationMs) } : {}),
      ...(check.details ?? {}),
    };
    lines.push('  ---', ...yamlLines(diag).map((l) => `  ${l}`), '  ...');
  });
  return `${lines.join('\n')}\n`;
}

function xml(text: string): string {
  return (
    text
      // XML 1.0 cannot carry most control characters or unpaired surrogates, even escaped.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/gu, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(3);

export function junitFrom(options: { suite: string; checks: CheckResult[]; hostname?: string }): string {
  const { checks } = options;
  const failures = checks.filter((c) => !c.ok && !c.skip).length;
  const skipped = checks.filter((c) => c.skip).length;
  const time = seconds(checks.reduce((n, c) => n + (c.durationMs ?? 0), 0));
  const suite = xml(options.suite);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${suite}" tests="${checks.length}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="${suite}" tests="${checks.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}"${options.hostname ? ` hostname="${xml(options.hostname)}"` : ''}>`,
  ];
  for (const check of checks) {
    const open = `    <testcase name="${xml(check.name)}" classname="effnet-edge.verify" time="${seconds(check.durationMs)}"`;
    if (check.skip) {
      lines.push(`${open}>`, `      <skipped message="${xml(check.skip)}"/>`, '    </testcase>');
    } else if (!check.ok) {
      const message = `measured ${check.measured ?? 'nothing'}, allowed ${check.allowed}`;
      const body = [
        message,
        ...Object.entries(check.details ?? {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`),
      ].join('\n');
      lines.push(
        `${open}>`,
        `      <failure message="${xml(message)}" type="regression">${xml(body)}</failure>`,
        '    </testcase>',
      );
    } else {
      lines.push(`${open}/>`);
    }
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}

export interface TapPoint {
  ok: boolean;
  name: string;
  skip: string | null;
  diag: Record<string, unknown> | null;
}

const unescaped = (text: string) => text.replace(/\\([#\\])/g, '$1');

/**
 * The top-level test points of a TAP text (the device's verify, streamed back), read as tap's parser reads them:
 * lines of a YAML block never count (the block ends at `  ...`, or at a line indented less, which is read as TAP
 * again); a directive starts at the first unescaped `#` after whitespace; `\r\n` (a pseudo-terminal) is accepted.
 */
export function testPointsFromTap(tap: string): TapPoint[] {
  const points: TapPoint[] = [];
  let yaml: string[] | null = null;
  const closeYaml = () => {
    const point = points.at(-1);
    if (point && yaml) {
      try {
        point.diag = parse(yaml.map((l) => l.slice(2)).join('\n')) as Record<string, unknown>;
      } catch {
        point.diag = null;
      }
    }
    yaml = null;
  };
  for (const line of tap.split(/\r?\n/)) {
    if (yaml) {
      if (line.trimEnd() === '  ...') {
        closeYaml();
        continue;
      }
      if (line.startsWith('  ') || line.trim() === '') {
        yaml.push(line);
        continue;
      }
      closeYaml();
    }
    if (line.trimEnd() === '  ---') {
      yaml = [];
      continue;
    }
    const point = /^(not ok|ok)(\s.*)?$/s.exec(line);
    if (!point) continue;
    // `\\` is a backslash (and, for tap's parser, whitespace before a `#`); `\#` is never a directive.
    const rest = point[2] ?? '';
    const masked = rest.replace(/\\\\/g, '  ').replace(/\\#/g, '__');
    const hash = masked.search(/\s#/);
    const description = hash >= 0 ? rest.slice(0, hash) : rest;
    const directive = hash >= 0 ? rest.slice(hash + 2).trim() : '';
    const skip = /^skip\b/i.test(directive) ? unescaped(directive.replace(/^skip\S*\s*/i, '')) : null;
    const name = unescaped(
      description
        .replace(/^\s*\d+/, '')
        .replace(/^\s*-\s?/, '')
        .trim(),
    );
    points.push({ ok: point[1] === 'ok', name, skip, diag: null });
  }
  if (yaml) closeYaml();
  return points;
}

/** Counts of a TAP text's top-level test points. A TODO point counts by its ok flag, the cautious reading for a gate. */
export function tapSummaryOf(tap: string): { passed: number; failed: number; skipped: number } {
  const points = testPointsFromTap(tap);
  return {
    passed: points.filter((p) => p.skip === null && p.ok).length,
    failed: points.filter((p) => p.skip === null && !p.ok).length,
    skipped: points.filter((p) => p.skip !== null).length,
  };
}
