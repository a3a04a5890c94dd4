/** The `effnet-edge` CLI: dispatch to a command, map typed errors to exit codes (1 user, 2 usage). */
import { helpText, messageFor, parseCommandArgs, type Command, type CommandIo } from './command.js';
import { nearestName } from './suggest.js';
import { exportCommand } from './commands/export.js';
import { summaryCommand } from './commands/summary.js';
import { quantizeCommand } from './commands/quantize.js';
import { evalCommand } from './commands/eval.js';
import { targetsCommand } from './commands/targets.js';
import { buildCommand } from './commands/build.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { benchCommand } from './commands/bench.js';
import { nativeCommand } from './commands/native.js';
import { engineCommand } from './commands/engine.js';
import { deviceCheckCommand } from './commands/deviceCheck.js';
import { deployCommand } from './commands/deploy.js';
import { verifyCommand } from './commands/verify.js';
import { rollbackCommand } from './commands/rollback.js';
import { statusCommand } from './commands/status.js';
import { UsageError, UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';

export const COMMANDS: readonly Command[] = [
  buildCommand,
  deployCommand,
  verifyCommand,
  rollbackCommand,
  statusCommand,
  inspectCommand,
  runCommand,
  benchCommand,
  nativeCommand,
  engineCommand,
  deviceCheckCommand,
  targetsCommand,
  summaryCommand,
  exportCommand,
  quantizeCommand,
  evalCommand,
];

function programHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `effnet-edge ${TOOLKIT_VERSION}: EfficientNet B0-B7 to calibrated int8 deployments on Jetson, CPUs and NPUs.`,
    '',
    'Usage: effnet-edge <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `effnet-edge <command> --help` for a command's options.",
    '',
  ].join('\n');
}

const processIo: CommandIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(programHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`${TOOLKIT_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const names = COMMANDS.map((c) => c.name);
    const nearest = nearestName(name, names);
    io.stderr(
      `effnet-edge: unknown command '${name}'; ${nearest === null ? `expected one of ${names.join(', ')}` : `did you mean ${nearest}?`}\n`,
    );
    return 2;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values.help === true) {
      io.stdout(helpText(command));
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError && error.exitCode === 2) {
      io.stderr(
        `effnet-edge ${command.name}: ${messageFor(error, command)}\nRun 'effnet-edge ${command.name} --help' for usage.\n`,
      );
      return error.exitCode;
    }
    if (error instanceof UserError) {
      io.stderr(`effnet-edge ${command.name}: ${messageFor(error, command)}\n`);
      return error.exitCode;
    }
    io.stderr(
      `effnet-edge ${command.name}: internal error, please report it with this trace:\n${(error as Error).stack ?? error}\n`,
    );
    return 70;
  }
}
