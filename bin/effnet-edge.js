#!/usr/bin/env node
// Launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'toolkit', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`effnet-edge: the CLI is not compiled (${entry} is missing). Run: npm run build\n`);
  process.exit(1);
}
// A reader that stops early (`| head`) is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
