/** deploy --install's staging: the prebuilt engine for the device's CPU is built here, else one built before, else a refusal. */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { prebuiltEnginePath, prebuiltEngineReady } from '../../toolkit/deploy/prebuiltEngine.js';
import { REPO_ROOT } from '../helpers/paths.js';

/** A toolkit folder with the build scripts and sources, but no engine built yet. */
function unbuiltToolkit(): string {
  const root = mkdtempSync(join(tmpdir(), 'effnet-toolkit-'));
  cpSync(join(REPO_ROOT, 'native'), join(root, 'native'), {
    recursive: true,
    filter: (path) => !/native\/(build|prebuilt)$/.test(path),
  });
  return root;
}

/** PATH for `body`: cmake alone (no compilers, native or cross). */
async function withCmakeOnly(body: () => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-path-'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v cmake'], { encoding: 'utf8' }).trim(), join(dir, 'cmake'));
  const saved = process.env.PATH;
  process.env.PATH = dir;
  try {
    await body();
  } finally {
    process.env.PATH = saved;
  }
}

const CROSS = {
  arm64:
    'aarch64-linux-gnu-gcc is not on PATH; install it: sudo apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  x64: 'x86_64-linux-gnu-gcc is not on PATH; install it: sudo apt-get install gcc-x86-64-linux-gnu libc6-dev-amd64-cross',
};
const foreign = process.arch === 'arm64' ? 'x64' : 'arm64';

t.test('no engine and no cross compiler: refused, naming the compiler and the apt packages', async (t) => {
  const root = unbuiltToolkit();
  await withCmakeOnly(async () => {
    await t.rejects(prebuiltEngineReady({ cpu: foreign, root, onNotice: () => {} }), {
      name: 'UserError',
      message: `--install ships a prebuilt int8 engine for linux-${foreign} and none is built: cannot build the prebuilt linux-${foreign} engine: ${CROSS[foreign]}; then deploy again`,
    });
  });
});

t.test('an engine built before is shipped when it cannot be rebuilt here, with a notice', async (t) => {
  const root = unbuiltToolkit();
  const path = prebuiltEnginePath({ cpu: foreign, root });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'built before');
  const notices: string[] = [];
  await withCmakeOnly(() => prebuiltEngineReady({ cpu: foreign, root, onNotice: (m) => notices.push(m) }));
  t.strictSame(notices, [
    `shipping the linux-${foreign} int8 engine built earlier (${path}): cannot build the prebuilt linux-${foreign} engine: ${CROSS[foreign]}`,
  ]);
});

t.test('with the compilers: built here for each CPU, silently', async (t) => {
  const root = unbuiltToolkit();
  const notices: string[] = [];
  for (const cpu of ['x64', 'arm64'] as const) {
    await prebuiltEngineReady({ cpu, root, onNotice: (m) => notices.push(m) });
    // ELF e_machine: 62 x86-64, 183 aarch64.
    t.equal(readFileSync(prebuiltEnginePath({ cpu, root })).readUInt16LE(18), cpu === 'x64' ? 62 : 183, cpu);
  }
  t.strictSame(notices, []);
});
