/**
 * The declarative CLI: --help generated from each command's declarations (shared options read the same everywhere),
 * "did you mean" for near misses, declared checks, and library field errors told in terms of flags.
 */
import t from 'tap';
import { COMMANDS } from '../../toolkit/cli/main.js';
import { helpText, parseCommandArgs } from '../../toolkit/cli/command.js';
import { biasCorrectionFrom, equalizeFrom } from '../../toolkit/cli/calibration.js';
import { buildCommand } from '../../toolkit/cli/commands/build.js';
import { quantizeCommand } from '../../toolkit/cli/commands/quantize.js';
import { editDistance, nearestName } from '../../toolkit/cli/suggest.js';
import { runCli } from '../helpers/cli.js';

t.test('an unknown command near a known one gets "did you mean"', async (t) => {
  const typo = await runCli(['quantise', '--model', 'm.onnx']);
  t.equal(typo.code, 2);
  t.equal(typo.stderr, "effnet-edge: unknown command 'quantise'; did you mean quantize?\n");
  t.equal((await runCli(['targts'])).stderr, "effnet-edge: unknown command 'targts'; did you mean targets?\n");
  t.equal((await runCli(['device'])).stderr, "effnet-edge: unknown command 'device'; did you mean device-check?\n");
});

t.test('an unknown flag near a declared one gets "did you mean"', async (t) => {
  const prefix = await runCli(['quantize', '--calib-dir', 'x']);
  t.equal(prefix.code, 2);
  t.equal(
    prefix.stderr,
    "effnet-edge quantize: Unknown option '--calib-dir'; did you mean --calib?\nRun 'effnet-edge quantize --help' for usage.\n",
  );
  const typo = await runCli(['run', '--bundel', 'b']);
  t.equal(typo.code, 2);
  t.equal(
    typo.stderr,
    "effnet-edge run: Unknown option '--bundel'; did you mean --bundle?\nRun 'effnet-edge run --help' for usage.\n",
  );
  const far = await runCli(['summary', '--bogus']);
  t.equal(far.stderr, "effnet-edge summary: Unknown option '--bogus'\nRun 'effnet-edge summary --help' for usage.\n");
});

t.test('nearestName: within two edits or a prefix, else nothing', async (t) => {
  t.equal(editDistance('quantise', 'quantize'), 1);
  t.equal(editDistance('', 'abc'), 3);
  t.equal(nearestName('quantise', ['build', 'quantize']), 'quantize');
  t.equal(nearestName('calib-dir', ['calib-count', 'calib']), 'calib');
  t.equal(nearestName('frobnicate', ['build', 'quantize']), null);
  t.equal(nearestName('bu', ['build']), null, 'a two-letter prefix is too short to mean one name');
});

t.test('every shared option has one help line, the same in every command that takes it', async (t) => {
  const lines = new Map<string, Set<string>>();
  for (const command of COMMANDS) {
    for (const line of helpText(command).split('\n')) {
      const flag = /^ {2}(?:-\w, )?(--[\w-]+)/.exec(line)?.[1];
      if (flag) lines.set(flag, (lines.get(flag) ?? new Set()).add(line));
    }
  }
  for (const flag of ['--json', '--runtime', '--host', '--identity', '--retries', '--preset', '--calib', '--variant'])
    t.equal(lines.get(flag)?.size, 1, flag);
  t.equal(lines.get('--weight-range')?.size, 1, 'build and quantize describe --weight-range alike');
});

t.test('declared checks say what was given and what was expected', async (t) => {
  const cases: [string[], string][] = [
    [['quantize', '--model', 'm.onnx', '--out', 'q.onnx', '--batch', '0'], '--batch expects a positive integer, got 0'],
    [['deploy', '--bundle', 'b', '--host', 'h', '--concurrency', 'x'], "--concurrency expects an integer, got 'x'"],
    [['deploy', '--bundle', 'b', '--host', 'h', '--keep', '0'], '--keep expects an integer ≥ 1, got 0'],
    [['status', '--host', 'h', '--connect-timeout', '0'], '--connect-timeout expects seconds > 0, got 0'],
    [
      ['rollback', '--host', 'h', '--to', '../x'],
      "--to expects a release id as effnet-edge status lists it, got '../x'",
    ],
    [['export', '--init', 'random', '--out', 'x.onnx'], "--init expects 'seeded', got 'random'"],
    [
      ['quantize', '--model', 'm.onnx', '--out', 'q.onnx', '--weight-rounding', 'round'],
      "--weight-rounding expects nearest or gptq, got 'round'",
    ],
  ];
  for (const [argv, message] of cases) {
    const result = await runCli(argv);
    t.equal(result.code, 2, argv.join(' '));
    t.equal(result.stderr, `effnet-edge ${argv[0]}: ${message}\nRun 'effnet-edge ${argv[0]} --help' for usage.\n`);
  }
});

t.test('a library field error is told in terms of the flag that fed the field', async (t) => {
  const host = await runCli(['status', '--host', 'pi@']);
  t.equal(host.code, 2);
  t.equal(
    host.stderr,
    "effnet-edge status: --host 'pi@': expected [user@]host[:port]\nRun 'effnet-edge status --help' for usage.\n",
  );
  const bnEps = await runCli(['export', '--variant', 'b0', '--init', 'seeded', '--bn-eps', '2', '--out', 'x.onnx']);
  t.equal(bnEps.code, 2);
  t.equal(
    bnEps.stderr,
    "effnet-edge export: --bn-eps must be in (0, 1), got 2\nRun 'effnet-edge export --help' for usage.\n",
  );
});

t.test(
  'a default is declared once: the help shows the declared value, and no help writes a number default itself',
  async (t) => {
    const { numberOrDefault, parseCommandArgs, stringOrDefault } = await import('../../toolkit/cli/command.js');
    for (const command of COMMANDS) {
      const help = helpText(command);
      for (const spec of command.groups.flat()) {
        const raw = typeof spec.help === 'string' ? spec.help : spec.help.join(' ');
        t.notMatch(
          raw,
          /default [0-9][0-9.]*\)/,
          `${command.name} --${spec.name}: declare the default, show {default}`,
        );
        const declared = spec.type === 'boolean' || spec.type === 'list' ? undefined : spec.default;
        if (declared === undefined) continue;
        t.match(help, `default ${declared}`, `${command.name} --${spec.name}: the help shows ${declared}`);
        const args = parseCommandArgs(command, []);
        const read = spec.type === 'string' ? stringOrDefault(args, spec.name) : numberOrDefault(args, spec.name);
        t.equal(read, declared, `${command.name} --${spec.name}: not given, it reads as the declared default`);
      }
    }
  },
);

t.test('cross-layer equalisation is on unless --no-equalize; both flags are a usage error', async (t) => {
  const parsed = (argv: string[]) => parseCommandArgs(quantizeCommand, ['--model', 'm.onnx', ...argv]);
  t.equal(equalizeFrom(parsed([])), true);
  t.equal(equalizeFrom(parsed(['--equalize'])), true, 'the default, said out loud');
  t.equal(equalizeFrom(parsed(['--no-equalize'])), false);
  t.equal(equalizeFrom(parseCommandArgs(buildCommand, ['--no-equalize'])), false, 'build takes it too');
  const both = await runCli([
    'quantize',
    '--model',
    'm.onnx',
    '--calib',
    'c',
    '--out',
    'q.onnx',
    '--equalize',
    '--no-equalize',
  ]);
  t.equal(both.code, 2);
  t.equal(
    both.stderr,
    "effnet-edge quantize: --equalize and --no-equalize contradict each other; give one\nRun 'effnet-edge quantize --help' for usage.\n",
  );
});

t.test(
  'bias correction runs with --method auto unless --no-bias-correction, with a named method only when asked',
  async (t) => {
    const parsed = (argv: string[]) => parseCommandArgs(quantizeCommand, ['--model', 'm.onnx', ...argv]);
    t.strictSame(biasCorrectionFrom(parsed([]), true), { biasCorrection: {} }, 'auto: on');
    t.strictSame(biasCorrectionFrom(parsed(['--bias-correction-count', '8']), true), { biasCorrection: { count: 8 } });
    t.strictSame(biasCorrectionFrom(parsed(['--no-bias-correction']), true), {}, 'auto: off when asked');
    t.strictSame(biasCorrectionFrom(parsed([]), false), {}, 'a named method: off');
    t.strictSame(
      biasCorrectionFrom(parsed(['--bias-correction']), false),
      { biasCorrection: {} },
      'a named method: asked',
    );
    t.strictSame(biasCorrectionFrom(parseCommandArgs(buildCommand, ['--no-bias-correction']), true), {}, 'build too');
    t.throws(() => biasCorrectionFrom(parsed(['--method', 'minmax', '--bias-correction-count', '8']), false), {
      message: '--bias-correction-count goes with --method auto or --bias-correction',
    });
  },
);
