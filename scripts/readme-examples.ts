/**
 * The README's example outputs, regenerated from the CLI rather than pasted: every block between
 * `<!-- example: NAME -->` and `<!-- /example -->` is replaced by the command's real output. `--check` rewrites
 * nothing and exits 1, naming the examples, when the README differs (a test runs it so the README stays true).
 *
 *   npm run build && node dist/scripts/readme-examples.js [--check] [README.md]
 *
 * Only quick commands that need no bundle and print the same on every machine are examples; a new one is a line in
 * EXAMPLES and a marker pair in the README.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { main } from '../toolkit/cli/main.js';
import { packagePath } from '../toolkit/packagePaths.js';

/** Marker name → the command line after `effnet-edge`. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  targets: ['targets'],
  'summary b0': ['summary', '--variant', 'b0'],
};

const MARKER = /<!-- example: ([^>]+?) -->\n[\s\S]*?<!-- \/example -->/g;

/** What the CLI prints for an example, as the README shows it: the command, then its output. */
export async function exampleOutput(argv: readonly string[]): Promise<string> {
  let stdout = '';
  let stderr = '';
  const code = await main([...argv], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  if (code !== 0) throw new Error(`effnet-edge ${argv.join(' ')} exited ${code}: ${stderr.trim()}`);
  return `$ npx effnet-edge ${argv.join(' ')}\n${stdout.trimEnd()}\n`;
}

/** The README with every example block holding `outputs[name]`; an unknown name is an error naming it. */
export function readmeWithExamples(readme: string, outputs: ReadonlyMap<string, string>): string {
  return readme.replace(MARKER, (_, name: string) => {
    const output = outputs.get(name);
    if (output === undefined)
      throw new Error(
        `README.md: <!-- example: ${name} --> names no example; known: ${[...outputs.keys()].join(', ')}`,
      );
    return `<!-- example: ${name} -->\n\n\`\`\`text\n${output}\`\`\`\n\n<!-- /example -->`;
  });
}

/** Each example's whole block (markers included), by name, in the README's order. */
export function exampleBlocks(readme: string): Map<string, string> {
  return new Map([...readme.matchAll(MARKER)].map((m) => [m[1]!, m[0]]));
}

/** Rewrites (or with `check`, compares) the README; returns the exit code. */
export async function readmeExamples(options: {
  readme: string;
  check: boolean;
  report: (line: string) => void;
}): Promise<number> {
  const before = await readFile(options.readme, 'utf8');
  const names = [...exampleBlocks(before).keys()];
  const outputs = new Map<string, string>();
  for (const name of names) {
    const argv = EXAMPLES[name];
    if (argv) outputs.set(name, await exampleOutput(argv));
  }
  const after = readmeWithExamples(before, outputs);
  const [old, now] = [exampleBlocks(before), exampleBlocks(after)];
  const stale = names.filter((name) => old.get(name) !== now.get(name));
  if (options.check) {
    if (after === before) return 0;
    options.report(
      `${options.readme}: examples out of date: ${stale.join(', ')}; run: npm run build && node dist/scripts/readme-examples.js`,
    );
    return 1;
  }
  if (after !== before) await writeFile(options.readme, after);
  options.report(
    `${options.readme}: examples: ${names.length}, rewritten: ${stale.length ? stale.join(', ') : 'none'}`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const readme = args.find((a) => a !== '--check') ?? packagePath('README.md');
  process.exitCode = await readmeExamples({
    readme,
    check: args.includes('--check'),
    report: (line) => void process.stderr.write(`readme-examples: ${line}\n`),
  });
}
