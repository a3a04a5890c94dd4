/**
 * Small files with one job: Biome fails `npm run lint` on a TypeScript function body over 80 lines or a file over 400
 * (biome.jsonc); the C and C++ sources, which Biome does not read, are held to the same 400 lines here. The SIMD
 * kernel files are the exception the issue allows (one long, flat loop nest per ISA reads better whole).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const MAX_FILE_LINES = 400;
const isKernel = (path: string) => /^kernels_[a-z0-9_]+\.c$/.test(path.split('/').pop()!);

function nativeSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'build' ? [] : nativeSources(path);
    return /\.(c|h|cpp|hpp)$/.test(entry.name) ? [path] : [];
  });
}

t.test(`every C and C++ source in native/ (the SIMD kernels aside) has at most ${MAX_FILE_LINES} lines`, async (t) => {
  const sources = nativeSources(join(REPO_ROOT, 'native'));
  t.ok(sources.length > 10, `${sources.length} sources read`);
  for (const path of sources.filter((p) => !isKernel(p))) {
    const lines = readFileSync(path, 'utf8').split('\n').length - 1;
    t.ok(lines <= MAX_FILE_LINES, `${relative(REPO_ROOT, path)}: ${lines} lines`);
  }
});

const biome = join(REPO_ROOT, 'node_modules', '.bin', 'biome');
const lint = (cwd: string) =>
  spawnSync(biome, ['lint', '--colors=off', '--vcs-enabled=false', '.'], { cwd, encoding: 'utf8' });

t.test('a planted 401-line file with a 399-line function fails the lint, named by both rules', async (t) => {
  const dir = t.testdir();
  copyFileSync(join(REPO_ROOT, 'biome.jsonc'), join(dir, 'biome.jsonc'));
  const body = Array.from({ length: 398 }, (_, i) => `  total += ${i};`).join('\n');
  writeFileSync(join(dir, 'long.ts'), `export function long(total: number): number {\n${body}\n  return total;\n}\n`);
  const result = lint(dir);
  t.not(result.status, 0, 'biome lint fails');
  t.match(result.stdout + result.stderr, /lint\/complexity\/noExcessiveLinesPerFunction/);
  t.match(result.stdout + result.stderr, /lint\/style\/noExcessiveLinesPerFile/);
  writeFileSync(join(dir, 'long.ts'), 'export const short = 1;\n');
  t.equal(lint(dir).status, 0, 'the same folder with a short file passes');
});
