/**
 * The deterministic tarball --install ships the toolkit in: ustar fields and checksums, PAX records for long paths
 * and link targets, the same bytes for the same tree, and the system's tar reading it back.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sha256Of } from '../../toolkit/bundle/hash.js';
import { TAR_MTIME, tarEntriesOf, tarGzWritten, tarHeader } from '../../toolkit/deploy/tarball.js';

t.test('ustar headers: fields, checksum, and a PAX record for what ustar cannot hold', async (t) => {
  const header = tarHeader({ path: 'node_modules/a.js', type: 'file', mode: 0o644, size: 1234, linkTarget: null });
  t.equal(header.length, 512);
  const text = (at: number, length: number) =>
    header
      .subarray(at, at + length)
      .toString('latin1')
      .replace(/\0+$/, '');
  t.strictSame(
    [text(0, 100), text(100, 8), text(124, 12), text(136, 12), text(156, 1), text(257, 6)],
    ['node_modules/a.js', '0000644', '00000002322', TAR_MTIME.toString(8).padStart(11, '0'), '0', 'ustar'],
  );
  const stored = parseInt(text(148, 8), 8);
  const blank = Buffer.from(header);
  blank.fill(' ', 148, 156);
  t.equal(
    stored,
    blank.reduce((a, b) => a + b, 0),
    'checksum over the header with its own field as spaces',
  );
  const long = `${'d'.repeat(120)}/${'f'.repeat(60)}`;
  t.equal(
    tarHeader({ path: long, type: 'file', mode: 0o644, size: 0, linkTarget: null }).length,
    512,
    'prefix + name hold 120/60',
  );
  const unsplittable = 'x'.repeat(180);
  const pax = tarHeader({ path: unsplittable, type: 'file', mode: 0o644, size: 0, linkTarget: null });
  t.equal(pax.length, 3 * 512, 'PAX header, its record, the entry');
  t.equal(pax.subarray(156, 157).toString(), 'x');
  t.equal(
    pax.subarray(512, 1024).toString().replace(/\0+$/, ''),
    `190 path=${unsplittable}\n`,
    "the record's length counts its own digits",
  );
});

t.test('a tree written twice is the same bytes, and tar reads back files, modes, folders and symlinks', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'prefix');
  const deep = join(root, 'node_modules', `${'p'.repeat(90)}`, `${'q'.repeat(90)}`);
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(root, 'package.json'), '{}\n');
  writeFileSync(join(root, 'node_modules', 'tool.js'), '#!/usr/bin/env node\n');
  chmodSync(join(root, 'node_modules', 'tool.js'), 0o700);
  writeFileSync(join(deep, `${'r'.repeat(95)}.node`), Buffer.alloc(1000, 7));
  symlinkSync('../tool.js', join(root, 'node_modules', '.bin', 'tool'));
  symlinkSync(
    `../${'p'.repeat(90)}/${'q'.repeat(90)}/${'r'.repeat(95)}.node`,
    join(root, 'node_modules', '.bin', 'long'),
  );
  const first = join(dir, 'a.tar.gz');
  const second = join(dir, 'b.tar.gz');
  const written = await tarGzWritten({ root, out: first });
  t.strictSame(written, { entries: 9, unpackedBytes: 3 + 20 + 1000 });
  utimesSync(join(root, 'package.json'), new Date(), new Date(2001, 1, 1));
  await tarGzWritten({ root, out: second });
  t.equal(sha256Of(readFileSync(second)), sha256Of(readFileSync(first)), 'mtimes do not change the bytes');
  t.strictSame(
    (await tarEntriesOf(root)).map((e) => e.path).slice(0, 4),
    ['node_modules', 'node_modules/.bin', 'node_modules/.bin/long', 'node_modules/.bin/tool'],
    'sorted by name',
  );

  const out = join(dir, 'out');
  mkdirSync(out);
  execFileSync('tar', ['-xzf', first, '-C', out]);
  t.equal(readFileSync(join(out, 'package.json'), 'utf8'), '{}\n');
  t.equal(lstatSync(join(out, 'node_modules', 'tool.js')).mode & 0o777, 0o755, 'an executable stays executable');
  t.equal(readlinkSync(join(out, 'node_modules', '.bin', 'tool')), '../tool.js');
  t.equal(
    readlinkSync(join(out, 'node_modules', '.bin', 'long')).length,
    3 + 90 + 1 + 90 + 1 + 100,
    'a link target over 100 bytes, through PAX',
  );
  t.equal(readFileSync(join(out, 'node_modules', '.bin', 'long')).length, 1000);
  const listing = execFileSync('tar', ['-tvzf', first], { encoding: 'utf8' });
  t.match(listing, /^drwxr-xr-x 0\/0 +0 1985-10-26 08:15 node_modules\/\n/);
});
