/**
 * What the tool prints for a person to paste must be safe to paste (issue 16): a user name from an inventory with
 * shell syntax in it is quoted in the ssh-copy-id advice, never run by the reader's shell.
 */
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pasteWord } from '../../toolkit/deploy/shellWords.js';
import { SshSession } from '../../toolkit/deploy/ssh.js';
import { TOOLKIT_VERSION } from '../../toolkit/version.js';
import { runCli } from '../helpers/cli.js';
import { startSshd, sshdUnavailableReason, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
let sshd: Sshd;

t.before(async () => {
  if (!skip) sshd = await startSshd({ dir: join(dir, 'sshd') });
});
t.teardown(async () => {
  await sshd?.stop();
});

t.test("printed words are quoted unless plain; ~ stays for the reader's shell", async (t) => {
  t.equal(pasteWord('ubuntu@jetson'), 'ubuntu@jetson');
  t.equal(pasteWord('~/.ssh/id_ed25519.pub'), '~/.ssh/id_ed25519.pub');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell injection, not a template
  t.equal(pasteWord('root$(touch${IFS}x)@127.0.0.1'), "'root$(touch${IFS}x)@127.0.0.1'");
  t.equal(pasteWord("it's"), "'it'\\''s'");
});

t.test(
  "an inventory user with shell syntax: the refused key's advice quotes it",
  { skip: skip ?? false },
  async (t) => {
    const inventory = join(dir, 'fleet.ini');
    writeFileSync(
      inventory,
      `[lab]\ndevice ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=root$(touch\${IFS}x)\n`,
    );
    const result = await runCli([
      'status',
      '--inventory',
      inventory,
      '--identity',
      sshd.clientKey,
      '--known-hosts',
      sshd.knownHosts,
      '--connect-timeout',
      '10',
      '--retries',
      '0',
    ]);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      `e.g. ssh-copy-id -i ${sshd.clientKey}.pub 'root$(touch\${IFS}x)@127.0.0.1' -p ${sshd.port}`,
    );
    t.notOk(existsSync('x'), 'nothing ran');
  },
);

t.test(
  "the test device has its own PATH and HOME: an effnet-edge installed here is not the device's",
  { skip: skip ?? false },
  async (t) => {
    // A stand-in for `npm i -g effnet-edge` on the developer's machine, first on this process's PATH.
    const global = join(dir, 'global-bin');
    mkdirSync(global, { recursive: true });
    writeFileSync(join(global, 'effnet-edge'), `#!/bin/sh\necho ${TOOLKIT_VERSION}\n`, { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${global}:${saved}`;
    let device: Sshd;
    try {
      device = await startSshd({ dir: join(dir, 'sshd-with-global') });
    } finally {
      process.env.PATH = saved;
    }
    t.teardown(() => device.stop());
    const session = await SshSession.open({
      target: { name: 'device', host: '127.0.0.1', port: device.port, user: 'root', identity: null, groups: [] },
      identity: device.clientKey,
      knownHostsPath: device.knownHosts,
      acceptNew: false,
      connectTimeoutMs: 10_000,
      retries: 0,
      onNotice: () => {},
    });
    try {
      const result = await session.exec('command -v effnet-edge || echo none; printf "%s\\n" "$HOME"');
      t.strictSame(result.stdout.trim().split('\n'), ['none', join(dir, 'sshd-with-global', 'device-home')]);
    } finally {
      session.close();
    }
  },
);
