/**
 * Files shipped beside the code (targets, the demo, native sources). Modules run from the sources in tests and from
 * `dist/` when installed, at different depths, so the package root is found by its package.json, not by counting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'effnet-edge'
    )
      return (root = dir);
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`internal: effnet-edge's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A path inside the installed package. */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
