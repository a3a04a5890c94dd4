/**
 * known_hosts against the real OpenSSH tools: ssh-keygen makes the keys, hashes the files (-H) and says which lines
 * it finds for a host (-F, with -l so it parses keys and drops malformed lines as ssh does). Our verdicts must agree.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fingerprint,
  hostKeyError,
  hostKeyVerdict,
  keyTypeOf,
  knownHostsAppended,
  knownHostsFrom,
  knownHostsLine,
  type HostKeyVerdict,
  type KnownHostEntry,
} from '../../toolkit/deploy/knownHosts.js';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const dir = mkdtempSync(join(tmpdir(), 'effnet-known-hosts-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface TestKey {
  pub: string;
  blob: Buffer;
  file: string;
}
function keygen(name: string, type: 'ed25519' | 'ecdsa'): TestKey {
  const file = join(dir, name);
  execFileSync(SSH_KEYGEN, ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').split(' ');
  return { pub: `${keyType} ${base64}`, blob: Buffer.from(base64!, 'base64'), file: `${file}.pub` };
}
const A = keygen('a', 'ed25519');
const B = keygen('b', 'ed25519');
const C = keygen('c', 'ecdsa');
const UNUSED = keygen('unused', 'ed25519');

/** The name ssh looks up, as the -F argument. */
const nameOf = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

let fileCount = 0;
function knownHostsFile(lines: string[]): string {
  const path = join(dir, `known_hosts_${++fileCount}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

interface Found {
  line: number;
  marker: string | null;
  fingerprint: string;
}
/** What `ssh-keygen -F name -l` finds: line numbers, REVOKED/CA marks and each line's key fingerprint. */
function sshKeygenFinds(path: string, name: string): Found[] {
  let output: string;
  try {
    output = execFileSync(SSH_KEYGEN, ['-F', name, '-l', '-f', path], { encoding: 'utf8' });
  } catch (error) {
    if ((error as { status?: number }).status === 1) return []; // not found
    throw error;
  }
  const found: Found[] = [];
  const lines = output.split('\n');
  lines.forEach((text, i) => {
    const head = /^# Host .* found: line (\d+) ?(REVOKED|CA)?/.exec(text);
    if (head) found.push({ line: Number(head[1]), marker: head[2] ?? null, fingerprint: lines[i + 1]!.split(' ')[2]! });
  });
  return found;
}

/** The lines our matcher takes for host:port, read through hostKeyVerdict one entry at a time. */
function linesWeMatch(entries: KnownHostEntry[], host: string, port: number): Found[] {
  return entries.flatMap((entry) => {
    // A revoked line shows itself only for its own key; a plain line shows itself as 'changed' for any other key.
    const probe = entry.marker === '@revoked' ? entry.key : UNUSED.blob;
    const verdict = hostKeyVerdict({ entries: [entry], host, port, key: probe });
    if (verdict.status === 'unknown') return [];
    return [
      { line: entry.line, marker: entry.marker === '@revoked' ? 'REVOKED' : null, fingerprint: fingerprint(entry.key) },
    ];
  });
}

const PROBES: [string, number][] = [
  ['127.0.0.1', 2222],
  ['127.0.0.1', 22],
  ['127.0.0.2', 2222],
  ['jetson', 22],
  ['x.lab', 22],
  ['otherhost', 22],
];

const tap = t;
/** Checks that we read `path` as ssh-keygen does, for every probe host; returns our entries. */
function agreesWithSshKeygen(t: Pick<typeof tap, 'strictSame'>, path: string): KnownHostEntry[] {
  const entries = knownHostsFrom({ text: readFileSync(path, 'utf8'), path });
  for (const [host, port] of PROBES) {
    // ssh-keygen also lists @cert-authority lines (as CA); they are not host keys, so we never match them.
    const theirs = sshKeygenFinds(path, nameOf(host, port)).filter((f) => f.marker !== 'CA');
    t.strictSame(linesWeMatch(entries, host, port), theirs, `${path}: lines for ${nameOf(host, port)}`);
  }
  return entries;
}

interface Case {
  name: string;
  lines: string[];
  host: string;
  port: number;
  key: TestKey;
  verdict: HostKeyVerdict;
}
const cases: Case[] = [
  {
    name: 'plain',
    lines: [`[127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'match' },
  },
  {
    name: 'port 22 is the bare name',
    lines: [`127.0.0.1 ${A.pub}`],
    host: '127.0.0.1',
    port: 22,
    key: A,
    verdict: { status: 'match' },
  },
  {
    name: 'a bare name is not another port',
    lines: [`127.0.0.1 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'unknown' },
  },
  {
    name: 'comma list',
    lines: [`jetson,[127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'match' },
  },
  {
    name: '? wildcard',
    lines: [`[127.0.0.?]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'match' },
  },
  { name: '* wildcard', lines: [`*.lab ${A.pub}`], host: 'x.lab', port: 22, key: A, verdict: { status: 'match' } },
  {
    name: 'negation excludes the line',
    lines: [`*,![127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'unknown' },
  },
  {
    name: 'negation spares other hosts',
    lines: [`*,![127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.2',
    port: 2222,
    key: A,
    verdict: { status: 'match' },
  },
  {
    name: 'one of several types',
    lines: [`[127.0.0.1]:2222 ${C.pub}`, `[127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'match' },
  },
  {
    name: '@revoked wins over a matching line',
    lines: [`[127.0.0.1]:2222 ${B.pub}`, `@revoked [127.0.0.1]:2222 ${B.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: B,
    verdict: { status: 'revoked', line: 2 },
  },
  {
    name: '@revoked for another host does not apply (as in ssh)',
    lines: [`@revoked otherhost ${B.pub}`, `[127.0.0.1]:2222 ${B.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: B,
    verdict: { status: 'match' },
  },
  {
    name: '@cert-authority is not a host key',
    lines: [`@cert-authority * ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'unknown' },
  },
  {
    name: 'changed key',
    lines: [`jetson ${B.pub}`, `[127.0.0.1]:2222 ${C.pub}`, `[127.0.0.1]:2222 ${B.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'changed', line: 3, knownType: 'ssh-ed25519' },
  },
  {
    name: 'known only under another type counts as changed (stricter than ssh)',
    lines: [`[127.0.0.1]:2222 ${C.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'changed', line: 1, knownType: 'ecdsa-sha2-nistp256' },
  },
  {
    name: 'unknown host',
    lines: [`jetson ${A.pub}`, `# [127.0.0.1]:2222 ${A.pub}`],
    host: '127.0.0.1',
    port: 2222,
    key: A,
    verdict: { status: 'unknown' },
  },
];

t.test('verdicts, plain and hashed by ssh-keygen -H, agree with ssh-keygen -F', async (t) => {
  for (const c of cases) {
    const path = knownHostsFile(c.lines);
    const entries = agreesWithSshKeygen(t, path);
    t.strictSame(hostKeyVerdict({ entries, host: c.host, port: c.port, key: c.key.blob }), c.verdict, c.name);
    // Hashing rewrites the file (one line per name; wildcard lines stay plain), so line numbers may move.
    execFileSync(SSH_KEYGEN, ['-H', '-f', path], { stdio: 'ignore' });
    const hashed = agreesWithSshKeygen(t, path);
    // ssh-keygen -H hashes plain names only: not wildcards, negations or marked lines.
    const hashable = c.lines.some((line) => !/^[@#]|[*?!]/.test(line));
    t.equal(
      hashed.some((e) => e.hashed !== null),
      hashable,
      `${c.name}: ${hashable ? 'names hashed' : 'nothing to hash'}`,
    );
    const verdict = hostKeyVerdict({ entries: hashed, host: c.host, port: c.port, key: c.key.blob });
    t.equal(verdict.status, c.verdict.status, `${c.name}, hashed`);
    if ('line' in verdict) {
      const found = sshKeygenFinds(path, nameOf(c.host, c.port)).map((f) => f.line);
      t.ok(found.includes(verdict.line), `${c.name}, hashed: line ${verdict.line} is one ssh-keygen finds`);
    }
  }
});

t.test('malformed lines are skipped, as ssh skips them', async (t) => {
  const base64 = A.pub.split(' ')[1];
  const path = knownHostsFile([
    `@bogus jetson ${A.pub}`,
    `jetson ssh-rsa ${base64}`, // the blob says ssh-ed25519
    'jetson ssh-ed25519 !!!',
    'jetson',
    `|1|c2hvcnQ=|xx ${A.pub}`, // a salt that is not 20 bytes
    `|2|${'A'.repeat(28)}|xx ${A.pub}`,
    `jetson ${A.pub} a comment`,
  ]);
  const entries = agreesWithSshKeygen(t, path);
  t.strictSame(
    entries.map((e) => e.line),
    [7],
  );
  t.strictSame(
    sshKeygenFinds(path, 'jetson').map((f) => f.line),
    [7],
  );
});

t.test('host names match case-insensitively, as ssh lower-cases them', async (t) => {
  const path = knownHostsFile([`Jetson.LAB ${A.pub}`]);
  const entries = knownHostsFrom({ text: readFileSync(path, 'utf8'), path });
  t.strictSame(hostKeyVerdict({ entries, host: 'JETSON.lab', port: 22, key: A.blob }), { status: 'match' });
  t.strictSame(
    sshKeygenFinds(path, 'jetson.lab').map((f) => f.line),
    [1],
  );
});

t.test('fingerprint and key type are what ssh-keygen -l prints', async (t) => {
  for (const key of [A, C]) {
    const [, printed, , kind] = execFileSync(SSH_KEYGEN, ['-l', '-f', key.file], { encoding: 'utf8' })
      .trim()
      .split(' ');
    t.equal(fingerprint(key.blob), printed);
    t.equal(keyTypeOf(key.blob), key.pub.split(' ')[0]);
    t.equal(kind, key === A ? '(ED25519)' : '(ECDSA)');
  }
  t.throws(() => keyTypeOf(Buffer.from([0, 0, 0, 9, 1])), /not an SSH public key blob \(5 bytes\)/);
});

t.test('lines we write are found by ssh-keygen -F and read back as a match', async (t) => {
  const path = join(dir, 'new', '.ssh', 'known_hosts');
  const written: [string, number, boolean][] = [
    ['127.0.0.1', 2222, false],
    ['127.0.0.1', 22, true],
    ['jetson', 2200, true],
  ];
  for (const [host, port, hash] of written) {
    await knownHostsAppended({ path, line: knownHostsLine({ host, port, key: A.blob, hash }) });
  }
  t.equal(knownHostsLine({ host: '127.0.0.1', port: 2222, key: A.blob }), `[127.0.0.1]:2222 ${A.pub}`);
  t.equal(knownHostsLine({ host: 'Jetson', port: 22, key: A.blob }), `jetson ${A.pub}`, 'lower-cased as ssh writes it');
  t.match(
    knownHostsLine({ host: 'jetson', port: 22, key: A.blob, hash: true }),
    /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /,
  );
  const entries = knownHostsFrom({ text: readFileSync(path, 'utf8'), path });
  written.forEach(([host, port], index) => {
    t.strictSame(
      sshKeygenFinds(path, nameOf(host, port)).map((f) => f.line),
      [index + 1],
      `${nameOf(host, port)} found`,
    );
    t.strictSame(hostKeyVerdict({ entries, host, port, key: A.blob }), { status: 'match' });
  });
  t.equal(statSync(path).mode & 0o777, 0o600, 'file 0600');
  t.equal(statSync(join(dir, 'new', '.ssh')).mode & 0o777, 0o700, 'folder 0700');
});

t.test('appending never joins an unterminated last line', async (t) => {
  const path = join(dir, 'unterminated');
  writeFileSync(path, `jetson ${A.pub}`);
  await knownHostsAppended({ path, line: `orin ${B.pub}` });
  t.equal(readFileSync(path, 'utf8'), `jetson ${A.pub}\norin ${B.pub}\n`);
  await knownHostsAppended({ path, line: `nano ${C.pub}` });
  t.equal(readFileSync(path, 'utf8'), `jetson ${A.pub}\norin ${B.pub}\nnano ${C.pub}\n`);
});

t.test('refusal messages', async (t) => {
  const fp = execFileSync(SSH_KEYGEN, ['-l', '-f', A.file], { encoding: 'utf8' }).split(' ')[1];
  const base = { host: '127.0.0.1', port: 2222, key: A.blob, knownHostsPath: '/home/me/.ssh/known_hosts' };
  t.equal(
    hostKeyError({ ...base, verdict: { status: 'changed', line: 3, knownType: 'ssh-ed25519' } }),
    `host key for [127.0.0.1]:2222 has CHANGED (/home/me/.ssh/known_hosts line 3 has a different ssh-ed25519 key; offered ssh-ed25519 ${fp}). ` +
      "If the device was reinstalled, remove the old key with: ssh-keygen -R '[127.0.0.1]:2222' -f /home/me/.ssh/known_hosts",
  );
  t.equal(
    hostKeyError({
      ...base,
      port: 22,
      knownHostsPath: '/tmp/my hosts',
      verdict: { status: 'changed', line: 1, knownType: 'ecdsa-sha2-nistp256' },
    }),
    `host key for 127.0.0.1 has CHANGED (/tmp/my hosts line 1 has a different ecdsa-sha2-nistp256 key; offered ssh-ed25519 ${fp}). ` +
      "If the device was reinstalled, remove the old key with: ssh-keygen -R 127.0.0.1 -f '/tmp/my hosts'",
  );
  t.equal(
    hostKeyError({ ...base, verdict: { status: 'unknown' } }),
    `host key for [127.0.0.1]:2222 is not in /home/me/.ssh/known_hosts (offered ssh-ed25519 ${fp}); ` +
      'check the fingerprint on the device and rerun with --accept-new to pin it, or add it with ssh-keyscan',
  );
  t.equal(
    hostKeyError({ ...base, verdict: { status: 'revoked', line: 2 } }),
    `host key for [127.0.0.1]:2222 is REVOKED (/home/me/.ssh/known_hosts line 2; offered ssh-ed25519 ${fp}); ` +
      'refusing to connect: that key is marked compromised, so the device needs new host keys before any deploy',
  );
});
