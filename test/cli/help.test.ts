import t from 'tap';
import { runCli } from '../helpers/cli.js';

t.test('every command has --help with examples', async (t) => {
  const { COMMANDS } = await import('../../toolkit/cli/main.js');
  for (const command of COMMANDS) {
    const help = await runCli([command.name, '--help']);
    t.equal(help.code, 0, command.name);
    t.match(help.stdout, new RegExp(`^Usage: effnet-edge ${command.name}`), `${command.name} usage`);
    t.match(help.stdout, new RegExp(`\\nExamples:\\n  effnet-edge ${command.name}`), `${command.name} examples`);
  }
});
