import t from 'tap';
// tap's own TAP parser (a dependency of tap) is the reference reader: what it reads back is what CI sees.
import { Parser, type Result } from 'tap-parser';
import {
  atLeast,
  atMost,
  junitFrom,
  tapFrom,
  tapSummaryOf,
  testPointsFromTap,
  type CheckResult,
} from '../../toolkit/eval/checkReports.js';

/** Everything that TAP and XML have to escape, plus a line separator that ends a line for tap's parser. */
const nasty = `a # b \\ c: "d" 'e' <f> & g ü 🚀 \u2028 h`;

const checks: CheckResult[] = [
  {
    name: 'top-1 agreement with build-time int8',
    ok: true,
    measured: 93.75,
    allowed: '>= 93.75 %',
    details: { images: 32, flipped: [3, 17] },
    durationMs: 1234,
  },
  {
    name: `${nasty}\nsecond line`,
    ok: false,
    measured: 'x: y # z',
    allowed: '<= 0.05',
    details: {
      ' leading': '  spaces',
      'key: with # colon': nasty,
      quotes: `"'`,
      empty: '',
      numeric: '93.75',
      yes: 'yes',
      none: null,
      flag: false,
      multi: 'line 1\nline 2\r\n',
      list: ['a: b', 1, '# c', '- d'],
    },
  },
  {
    name: 'top-1 accuracy on the labelled golden inputs',
    ok: true,
    measured: null,
    allowed: 'n/a',
    skip: 'golden set has no labels # even \\ this',
  },
  { name: 'ends with a backslash \\', ok: false, measured: 0.07, allowed: '<= 0.05' },
];

/** The test points tap's parser reads, and the parser itself for its counts and comments. */
function parsed(tap: string) {
  const parser = new Parser();
  const points: Result[] = [];
  parser.on('assert', (point: Result) => points.push(point));
  parser.end(tap); // the parser reads synchronously: everything is in by now
  return { parser, points };
}

t.test(
  "tap's parser reads every check back: ok flags, names, skip reasons and the YAML as the same objects",
  async (t) => {
    const tap = tapFrom({ suite: 'verify', checks, comment: ['device jetson # 1', 'two\nlines'] });
    t.match(tap, /^TAP version 14\n# device jetson # 1\n# two lines\n1\.\.4\n/);
    t.ok(tap.endsWith('  ...\n'));
    const { parser, points } = parsed(tap);
    t.strictSame(
      { count: parser.count, pass: parser.pass, fail: parser.fail, skip: parser.skip, ok: parser.ok },
      { count: 4, pass: 2, fail: 2, skip: 1, ok: false },
    );
    t.strictSame([parser.planStart, parser.planEnd], [1, 4]);
    t.strictSame(parser.comments, ['# device jetson # 1\n', '# two lines\n']);
    t.strictSame(
      points.map((p) => [p.id, p.ok, p.name, p.skip]),
      [
        [1, true, 'top-1 agreement with build-time int8', false],
        // A TAP line cannot break: line breaks and U+2028 come back as spaces.
        [2, false, `a # b \\ c: "d" 'e' <f> & g ü 🚀   h second line`, false],
        [3, true, 'top-1 accuracy on the labelled golden inputs', 'golden set has no labels # even \\ this'],
        [4, false, 'ends with a backslash \\', false],
      ],
    );
    t.strictSame(
      // tap's parser takes `duration_ms` out of the YAML as the point's time, the TAP convention for it.
      points.map((p) => ({ ...p.diag, ...(p.time === null ? {} : { duration_ms: p.time }) })),
      checks.map((c) => ({
        measured: c.measured,
        allowed: c.allowed,
        ...(c.durationMs === undefined ? {} : { duration_ms: c.durationMs }),
        ...c.details,
      })),
      'YAML values survive exactly, U+2028 and \\r included; a measured time as duration_ms',
    );
    // Our own reader (deploy reads the device's TAP with it) agrees with tap's on every field.
    t.strictSame(
      testPointsFromTap(tap),
      points.map((p) => ({
        ok: p.ok,
        name: p.name,
        skip: p.skip === false ? null : p.skip,
        diag: { ...p.diag, ...(p.time === null ? {} : { duration_ms: p.time }) },
      })),
    );
    t.strictSame(
      testPointsFromTap(tap.replace(/\n/g, '\r\n')),
      testPointsFromTap(tap),
      'the same through a pseudo-terminal',
    );
  },
);

t.test('the TAP text for one check, exactly', async (t) => {
  const tap = tapFrom({
    suite: 'verify',
    checks: [
      {
        name: 'max logit # deviation',
        ok: false,
        measured: 0.07,
        allowed: '<= 0.05',
        details: { images: 2, note: 'a: b' },
      },
    ],
  });
  t.equal(
    tap,
    [
      'TAP version 14',
      '1..1',
      'not ok 1 - max logit \\# deviation',
      '  ---',
      '  measured: 0.07',
      '  allowed: <= 0.05',
      '  images: 2',
      '  note: "a: b"',
      '  ...',
      '',
    ].join('\n'),
  );
});

t.test('no checks is a valid, empty plan', async (t) => {
  const { parser } = parsed(tapFrom({ suite: 'verify', checks: [] }));
  t.strictSame(
    { count: parser.count, ok: parser.ok, plan: [parser.planStart, parser.planEnd] },
    { count: 0, ok: true, plan: [1, 0] },
  );
});

t.test('tapSummaryOf counts our own TAP as the parser does', async (t) => {
  const tap = tapFrom({ suite: 'verify', checks });
  const { points } = parsed(tap);
  const summary = tapSummaryOf(tap);
  t.strictSame(summary, { passed: 1, failed: 2, skipped: 1 });
  t.strictSame(summary, {
    passed: points.filter((p) => p.ok && !p.skip).length,
    failed: points.filter((p) => !p.ok && !p.skip).length,
    skipped: points.filter((p) => p.skip).length,
  });
  t.strictSame(tapSummaryOf(tap.replace(/\n/g, '\r\n')), summary, 'the same through a pseudo-terminal');
});

t.test('tapSummaryOf skips comments and YAML blocks and reads directives as TAP 14 does', async (t) => {
  const tap = [
    'TAP version 14',
    '# not ok 9 - a comment is not a test point',
    '1..5',
    'ok 1 - first',
    '  ---',
    '  log: |',
    '    not ok 8 - a log line inside the YAML block',
    '',
    '    ok 7 - still inside, after a blank line',
    '  ...',
    'not ok 2 - an escaped \\# SKIP is part of the name',
    'ok 3 - third # skip no GPU on this host',
    '  ---',
    '  unterminated: true',
    'not ok 4 - a line indented less ends the block; a skip wins over not ok # SKIP reason',
    'not ok 5 - a TODO counts by its ok flag # TODO not yet',
    '',
  ].join('\n');
  t.strictSame(tapSummaryOf(tap), { passed: 1, failed: 2, skipped: 2 });
  // The same test points as tap's parser finds, with the same skips.
  const { points } = parsed(tap);
  t.strictSame(
    points.map((p) => [p.id, p.ok, Boolean(p.skip)]),
    [
      [1, true, false],
      [2, false, false],
      [3, true, true],
      [4, false, true],
      [5, false, false],
    ],
  );
  t.match(points[0]!.diag, { log: /not ok 8/ });
  t.strictSame(tapSummaryOf(''), { passed: 0, failed: 0, skipped: 0 });
});

t.test('a bound is numbers for scripts and keeps its text: atLeast, atMost, in TAP YAML', async (t) => {
  t.strictSame(atLeast('agreement', 93.75, '%'), {
    allowed: '>= 93.75 %',
    bound: { metric: 'agreement', min: 93.75, unit: '%' },
  });
  t.strictSame(atMost('logitDeviation', 0.29, null), {
    allowed: '<= 0.29',
    bound: { metric: 'logitDeviation', max: 0.29, unit: null },
  });
  const check: CheckResult = {
    name: 'cosine',
    ok: true,
    measured: 0.99,
    ...atLeast('cosine', 0.96, null),
    durationMs: 0.4,
  };
  t.equal(
    tapFrom({ suite: 'verify', checks: [check] }),
    'TAP version 14\n1..1\nok 1 - cosine\n  ---\n  measured: 0.99\n  allowed: ">= 0.96"\n  bound:\n    metric: cosine\n' +
      '    min: 0.96\n    unit: null\n  duration_ms: 0.4\n  ...\n',
  );
  t.strictSame(testPointsFromTap(tapFrom({ suite: 'verify', checks: [check] }))[0]!.diag, {
    measured: 0.99,
    allowed: '>= 0.96',
    bound: { metric: 'cosine', min: 0.96, unit: null },
    duration_ms: 0.4,
  });
});

t.test('JUnit XML for a small run, exactly', async (t) => {
  const small: CheckResult[] = [
    { name: 'top-1 agreement', ok: true, measured: 100, allowed: '>= 93.75 %', durationMs: 1234 },
    {
      name: 'max logit deviation',
      ok: false,
      measured: 0.07,
      allowed: '<= 0.05',
      details: { images: 32, flipped: [3, 17] },
      durationMs: 5,
    },
    { name: 'top-1 accuracy', ok: true, measured: null, allowed: 'n/a', skip: 'golden set has no labels' },
  ];
  const xml = junitFrom({ suite: 'effnet-edge verify', checks: small, hostname: 'jetson-01' });
  t.equal(
    xml,
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<testsuites name="effnet-edge verify" tests="3" failures="1" skipped="1">',
      '  <testsuite name="effnet-edge verify" tests="3" failures="1" errors="0" skipped="1" time="1.239" hostname="jetson-01">',
      '    <testcase name="top-1 agreement" classname="effnet-edge.verify" time="1.234"/>',
      '    <testcase name="max logit deviation" classname="effnet-edge.verify" time="0.005">',
      '      <failure message="measured 0.07, allowed &lt;= 0.05" type="regression">measured 0.07, allowed &lt;= 0.05',
      'images: 32',
      'flipped: 3, 17</failure>',
      '    </testcase>',
      '    <testcase name="top-1 accuracy" classname="effnet-edge.verify" time="0.000">',
      '      <skipped message="golden set has no labels"/>',
      '    </testcase>',
      '  </testsuite>',
      '</testsuites>',
      '',
    ].join('\n'),
  );
  t.equal(
    junitFrom({ suite: 'effnet-edge verify', checks: small, hostname: 'jetson-01' }),
    xml,
    'same input, same bytes',
  );
  t.notMatch(
    junitFrom({ suite: 's', checks: small }),
    /hostname|timestamp/,
    'nothing that changes from run to run unless given',
  );
});

/** The text of a JUnit document's attribute values and element bodies, entities decoded; throws where it is not well-formed. */
function textsOf(xml: string): string[] {
  const texts: string[] = [];
  const open: string[] = [];
  const decode = (s: string) => {
    if (/&(?!(amp|lt|gt|quot|apos);)|</.test(s)) throw new Error(`unescaped text: ${s}`);
    return s.replace(
      /&(amp|lt|gt|quot|apos);/g,
      (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!,
    );
  };
  const body = xml.replace(/^<\?xml[^>]*\?>\n/, '');
  // A tag, or the text up to the next one; attribute values cannot hold a quote, so `[^"]*` is exact.
  for (const [token, close, name, attrs, empty, text] of body.matchAll(
    /<(\/?)(\w+)((?: \w+="[^"]*")*)(\/?)>|([^<]+)/g,
  )) {
    if (text !== undefined) texts.push(decode(text));
    else if (close) {
      if (open.pop() !== name) throw new Error(`unbalanced ${token}`);
    } else {
      for (const [, value] of attrs!.matchAll(/="([^"]*)"/g)) texts.push(decode(value!));
      if (!empty) open.push(name!);
    }
  }
  if (open.length > 0 || body.replace(/<(\/?)(\w+)((?: \w+="[^"]*")*)(\/?)>|[^<]+/g, '') !== '')
    throw new Error('not well-formed');
  return texts;
}

t.test('JUnit escapes every string and drops what XML 1.0 cannot carry', async (t) => {
  const odd = `${nasty} \u0000\u001b\ud800 end`;
  const xml = junitFrom({
    suite: odd,
    hostname: odd,
    checks: [
      { name: odd, ok: false, measured: odd, allowed: '<= "0.05"', details: { [odd]: odd } },
      { name: 'skipped', ok: true, measured: null, allowed: 'n/a', skip: odd },
    ],
  });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  t.notMatch(xml, /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/, 'no control characters');
  t.notOk(/[\ud800-\udfff]/u.test(xml), 'no unpaired surrogates');
  const texts = textsOf(xml);
  const kept = `${nasty}  end`;
  t.ok(texts.includes(kept), 'a name comes back whole, less the dropped characters');
  t.ok(texts.includes(`measured ${kept}, allowed <= "0.05"`), 'the failure message');
  t.ok(
    texts.some((s) => s.endsWith(`\n${kept}: ${kept}`)),
    'the details in the failure body',
  );
  t.equal(texts.filter((s) => s === kept).length, 5, 'suite twice, hostname, test case name and skip message');
});
