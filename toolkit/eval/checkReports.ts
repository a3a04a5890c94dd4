/** The report formats of `effnet-edge verify`: TAP 14 (one test point per check, YAML diagnostics) and JUnit XML. */
import { stringify } from 'yaml';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Measured vs allowed, as shown in diagnostics; numbers stay numbers. */
  measured: number | string | null;
  allowed: string;
  details?: Record<string, number | string | boolean | null | (number | string)[]>;
  /** Why the check could not run (e.g. the golden set has no labels); a skipped check is not a failure. */
  skip?: string | null;
  durationMs?: number;
}

/** TAP 14: `#` and `\` in descriptions are escaped, newlines flattened. */
function description(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/#/g, '\\#').replace(/[\r\n]+/g, ' ');
}

export function tapFrom(options: { suite: string; checks: CheckResult[]; comment?: string[] }): string {
  const lines = ['TAP version 14', ...(options.comment ?? []).map((c) => `# ${c.replace(/[\r\n]+/g, ' ')}`), `1..${options.checks.length}`];
  options.checks.forEach((check, i) => {
    const skip = check.skip ? ` # SKIP ${check.skip.replace(/[\r\n]+/g, ' ')}` : '';
    lines.push(`${check.ok ? 'ok' : 'not ok'} ${i + 1} - ${description(check.name)}${skip}`);
    const diag = { measured: check.measured, allowed: check.allowed, ...(check.details ?? {}) };
    // The yaml library quotes whatever would not read back as the same value (colons, #, leading spaces, …).
    const yaml = stringify(diag, { lineWidth: 0 }).trimEnd().split('\n');
    lines.push('  ---', ...yaml.map((l) => `  ${l}`), '  ...');
  });
  return lines.join('\n') + '\n';
}

function xml(text: string): string {
  return text
    // XML 1.0 cannot carry most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

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
      const body = [message, ...Object.entries(check.details ?? {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)].join('\n');
      lines.push(`${open}>`, `      <failure message="${xml(message)}" type="regression">${xml(body)}</failure>`, '    </testcase>');
    } else {
      lines.push(`${open}/>`);
    }
  }
  lines.push('  </testsuite>', '</testsuites>');
  return lines.join('\n') + '\n';
}

/** Counts of a TAP text's top-level test points; YAML blocks are skipped, so their contents never count. */
export function tapSummaryOf(tap: string): { passed: number; failed: number; skipped: number } {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  let inYaml = false;
  for (const line of tap.split('\n')) {
    if (inYaml) {
      if (line === '  ...') inYaml = false;
      continue;
    }
    if (line === '  ---') {
      inYaml = true;
      continue;
    }
    const match = /^(not ok|ok)\b(.*)$/.exec(line);
    if (!match) continue;
    if (/[^\\]#\s*SKIP\b/i.test(match[2]!)) counts.skipped += 1;
    else if (match[1] === 'ok') counts.passed += 1;
    else counts.failed += 1;
  }
  return counts;
}
