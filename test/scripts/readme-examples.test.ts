/** The README's example outputs are the CLI's own, and its usage runs commands that exist after `npm ci`. */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleOutput, readmeExamples, readmeWithExamples } from '../../scripts/readme-examples.js';
import { REPO_ROOT } from '../helpers/paths.js';

const README = join(REPO_ROOT, 'README.md');

t.test('--check: every example block in README.md is what the command prints now', async (t) => {
  const lines: string[] = [];
  const code = await readmeExamples({ readme: README, check: true, report: (l) => lines.push(l) });
  t.equal(code, 0, lines.join('\n'));
  t.strictSame(lines, []);
});

t.test('a stale block fails --check naming it, and is rewritten without --check', async (t) => {
  const readme = join(t.testdir(), 'README.md');
  const fresh = readmeWithExamples(
    'intro\n<!-- example: targets -->\n<!-- /example -->\nend\n',
    new Map([['targets', await exampleOutput(['targets'])]]),
  );
  t.match(fresh, /^intro\n<!-- example: targets -->\n\n```text\n\$ npx effnet-edge targets\nTarget {13}Runtime/);
  writeFileSync(readme, fresh.replace('npu-generic ', 'npu-generik '));
  const lines: string[] = [];
  t.equal(await readmeExamples({ readme, check: true, report: (l) => lines.push(l) }), 1);
  t.strictSame(lines, [
    `${readme}: examples out of date: targets; run: npm run build && node dist/scripts/readme-examples.js`,
  ]);
  t.match(readFileSync(readme, 'utf8'), 'npu-generik', '--check writes nothing');
  t.equal(await readmeExamples({ readme, check: false, report: (l) => lines.push(l) }), 0);
  t.equal(readFileSync(readme, 'utf8'), fresh);
  t.equal(lines.at(-1), `${readme}: examples: 1, rewritten: targets`);
  t.throws(() => readmeWithExamples('<!-- example: deploy -->\n<!-- /example -->', new Map()), {
    message: 'README.md: <!-- example: deploy --> names no example; known: ',
  });
});

t.test("the README's shell lines run effnet-edge through npx (npm ci puts no effnet-edge on the PATH)", async (t) => {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const bare = blocks.flatMap((b) => b.split('\n')).filter((l) => /^effnet-edge /.test(l));
  // The one exception runs on the device, whose effnet-edge deploy found or installed there.
  t.strictSame(bare, [
    'effnet-edge verify --bundle ~/.effnet-edge/current --junit verify.xml   # on the device itself',
  ]);
  t.ok(
    blocks
      .join('\n')
      .split('\n')
      .filter((l) => l.startsWith('npx effnet-edge ')).length >= 30,
  );
});
