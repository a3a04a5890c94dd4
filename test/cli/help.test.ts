import t from 'tap';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { CIFAR_B0 } from '../helpers/paths.js';

t.test('every command has --help with examples', async (t) => {
  const { COMMANDS } = await import('../../toolkit/cli/main.js');
  for (const command of COMMANDS) {
    const help = await runCli([command.name, '--help']);
    t.equal(help.code, 0, command.name);
    t.match(help.stdout, new RegExp(`^Usage: effnet-edge ${command.name}`), `${command.name} usage`);
    t.match(help.stdout, new RegExp(`\\nExamples:\\n  effnet-edge ${command.name}`), `${command.name} examples`);
  }
});

t.test(
  '--select-count and --search-count have their own help lines in quantize and build, with defaults',
  async (t) => {
    for (const command of ['quantize', 'build']) {
      const help = (await runCli([command, '--help'])).stdout;
      const lines = help.split('\n');
      const select = lines.findIndex((l) => l.startsWith('  --select-count N '));
      t.equal(
        lines
          .slice(select, select + 3)
          .map((l) => l.replace(/^ {2}--select-count N +| +/, ''))
          .join(' '),
        'with --method auto: calibration images each calibrator is scored on (default: what a ' +
          'fixed compute budget allows: 256 for B0 at 224 and smaller, B1 145, B2 100, B3 54, B4 22, ' +
          'B5 and larger 16)',
        command,
      );
      const search = lines.findIndex((l) => l.startsWith('  --search-count N '));
      t.equal(
        lines
          .slice(search, search + 3)
          .map((l) => l.replace(/^ {2}--search-count N +| +/, ''))
          .join(' '),
        "with --method auto: calibration images each activation's range search runs on; 0 skips the " +
          'search (default: what a fixed compute budget allows, 128 at most: B0 128 at 32×32 and ' +
          '32 at 224, B1 18, B2 12, B3 and larger 8)',
        command,
      );
    }
  },
);

t.test('--select-count without --method auto is refused, as --search-count is', async (t) => {
  const model = join(CIFAR_B0, 'model.onnx');
  const argv = ['quantize', '--model', model, '--calib', join(CIFAR_B0, 'calib'), '--method', 'minmax'];
  const result = await runCli([...argv, '--select-count', '8', '--out', 'q.onnx']);
  t.equal(result.code, 2);
  t.equal(
    result.stderr,
    "effnet-edge quantize: --select-count goes with --method auto\nRun 'effnet-edge quantize --help' for usage.\n",
  );
});
