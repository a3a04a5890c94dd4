/** The toolkit's version, read once from package.json (it is recorded in every artifact we write). */
import { readFileSync } from 'node:fs';

const packageJson = new URL('../../package.json', import.meta.url);
const fallback = new URL('../package.json', import.meta.url);

function readVersion(): string {
  // Compiled code lives in dist/toolkit/, sources in toolkit/: the package root is one or two levels up.
  for (const url of [packageJson, fallback]) {
    try {
      const parsed = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'effnet-edge' && parsed.version) return parsed.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

export const TOOLKIT_VERSION = readVersion();
