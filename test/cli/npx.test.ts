/**
 * What `npm ci` leaves a user with: `npx effnet-edge` answers without npm's warnings (an unknown project config in
 * .npmrc made every npx call print one), and onnxruntime-node's NuGet download is denied by package.json, not skipped
 * by a config key npm is dropping.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  allowScripts: Record<string, boolean>;
};

t.test('npx effnet-edge --version prints the version and nothing on stderr', async (t) => {
  const result = await execa('npx', ['--no-install', 'effnet-edge', '--version'], { cwd: root, reject: false });
  t.equal(result.exitCode, 0);
  t.equal(result.stdout, manifest.version);
  t.equal(result.stderr, '');
});

t.test("onnxruntime-node's install script is denied; the native addons' scripts are allowed", async (t) => {
  t.equal(manifest.allowScripts['onnxruntime-node'], false);
  t.equal(manifest.allowScripts.koffi, true);
  const npmrc = join(root, '.npmrc');
  const text = (() => {
    try {
      return readFileSync(npmrc, 'utf8');
    } catch {
      return '';
    }
  })();
  t.notMatch(text, /onnxruntime-node-install/);
});
