/**
 * Signed bundles interoperate with OpenSSH: `ssh-keygen -Y verify` accepts our manifest.json.sig (which is byte for
 * byte what `ssh-keygen -Y sign` writes for the same ed25519 key), and we accept its; every refusal names why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { matchesPatternList } from '../../toolkit/bundle/allowedSigners.js';
import {
  keyFingerprint,
  manifestSignature,
  SIGN_PASSPHRASE_ENV,
  signatureCheck,
  signingKeyFrom,
} from '../../toolkit/bundle/signature.js';

const keygen = spawnSync('ssh-keygen', ['-?']).error
  ? 'ssh-keygen is not installed (apt-get install openssh-client)'
  : null;
const dir = t.testdir();
const manifestPath = join(dir, 'manifest.json');
const manifestBytes = Buffer.from('{"schema":"effnet-edge/bundle@2","files":{}}\n');
writeFileSync(manifestPath, manifestBytes);

function keyPair(name: string, type = 'ed25519', passphrase = ''): { key: string; publicLine: string } {
  const key = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', `${name}@test`, '-f', key]);
  return { key, publicLine: readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ') };
}

/** `ssh-keygen -Y sign`'s signature of the manifest (it will not overwrite an existing .sig). */
function sshKeygenSign(key: string, namespace = 'effnet-edge'): string {
  rmSync(`${manifestPath}.sig`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', key, '-n', namespace, manifestPath]);
  return readFileSync(`${manifestPath}.sig`, 'utf8');
}

function sshKeygenVerify(options: { allowed: string; identity: string; signature: string }) {
  const allowed = join(dir, 'allowed_signers.check');
  writeFileSync(allowed, options.allowed);
  const sig = join(dir, 'check.sig');
  writeFileSync(sig, options.signature);
  const args = ['-Y', 'verify', '-f', allowed, '-I', options.identity, '-n', 'effnet-edge', '-s', sig];
  return spawnSync('ssh-keygen', args, { input: manifestBytes, encoding: 'utf8' });
}

t.test(
  'ours is what ssh-keygen -Y sign writes, and ssh-keygen -Y verify accepts it',
  { skip: keygen ?? false },
  async (t) => {
    const builder = keyPair('builder');
    const ours = manifestSignature({ manifestBytes, key: await signingKeyFrom(builder.key) });
    execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', builder.key, '-n', 'effnet-edge', manifestPath]);
    t.equal(ours, readFileSync(`${manifestPath}.sig`, 'utf8'));
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${builder.key}.pub`], { encoding: 'utf8' }).split(
      ' ',
    )[1];
    const accepted = sshKeygenVerify({
      allowed: `builder@lab ${builder.publicLine}\n`,
      identity: 'builder@lab',
      signature: ours,
    });
    t.equal(accepted.status, 0);
    t.equal(accepted.stdout, `Good "effnet-edge" signature for builder@lab with ED25519 key ${fingerprint}\n`);
    const other = keyPair('other');
    const refused = sshKeygenVerify({
      allowed: `builder@lab ${other.publicLine}\n`,
      identity: 'builder@lab',
      signature: ours,
    });
    t.not(refused.status, 0);
  },
);

t.test("ssh-keygen's signatures are accepted; every refusal says why", { skip: keygen ?? false }, async (t) => {
  const signer = keyPair('signer');
  const foreign = keyPair('foreign');
  const signatureText = sshKeygenSign(signer.key);
  const publicBlob = Buffer.from(signer.publicLine.split(' ')[1]!, 'base64');
  const fingerprint = keyFingerprint(publicBlob);
  const check = (allowedSigners: string, options: { text?: string | null; bytes?: Buffer } = {}) =>
    signatureCheck({
      manifestBytes: options.bytes ?? manifestBytes,
      signatureText: options.text === undefined ? signatureText : options.text,
      allowedSigners,
      now: new Date(Date.UTC(2026, 11, 4)),
    });
  t.same(check(`ops@lab,ci@* ${signer.publicLine} comment\n`), { ok: true, principals: 'ops@lab,ci@*', fingerprint });
  t.same(check(`# fleet keys\n\nops namespaces="effnet-edge,git" ${signer.publicLine}\n`), {
    ok: true,
    principals: 'ops',
    fingerprint,
  });
  const notAllowed = `is signed by ${fingerprint}, which allowed_signers does not allow to sign 'effnet-edge' now`;
  t.same(check(`ops ${foreign.publicLine}\n`), { ok: false, problem: notAllowed });
  t.same(check(`ops namespaces="git" ${signer.publicLine}\n`), { ok: false, problem: notAllowed });
  t.same(check(`ops valid-before="20260101Z" ${signer.publicLine}\n`), { ok: false, problem: notAllowed });
  t.same(check(`ops cert-authority ${signer.publicLine}\n`), { ok: false, problem: notAllowed });
  t.same(check(`ops valid-after="20260101",valid-before="20270101" ${signer.publicLine}\n`).ok, true);
  t.same(check(`ops ${signer.publicLine}\n`, { text: null }), {
    ok: false,
    problem: 'is not signed (no manifest.json.sig); build it with --sign KEY',
  });
  t.same(check(`ops ${signer.publicLine}\n`, { bytes: Buffer.from('{"changed":true}\n') }), {
    ok: false,
    problem: `has a signature by ${fingerprint} that does not match manifest.json (changed after signing?)`,
  });
  t.same(check(`ops ${signer.publicLine}\n`, { text: sshKeygenSign(signer.key, 'git') }), {
    ok: false,
    problem: "is signed for namespace 'git', not 'effnet-edge'",
  });
  t.same(check(`ops ${signer.publicLine}\n`, { text: 'not a signature' }), {
    ok: false,
    problem:
      'has an unreadable manifest.json.sig: it is not an armored SSH signature (expected -----BEGIN SSH SIGNATURE----- … -----END SSH SIGNATURE-----)',
  });
  t.same(check(`ops bogus-option ${signer.publicLine}\n`), {
    ok: false,
    problem: "cannot be checked: allowed_signers line 1: unknown option 'bogus-option'",
  });
});

t.test(
  '--sign takes an unencrypted or passphrase-given ed25519 private key, and says what else it got',
  { skip: keygen ?? false },
  async (t) => {
    const rsa = keyPair('rsa', 'rsa');
    await t.rejects(signingKeyFrom(rsa.key), {
      message: `${rsa.key}: a ssh-rsa key; --sign takes an ed25519 key ('ssh-keygen -t ed25519')`,
    });
    const plain = keyPair('plain');
    await t.rejects(signingKeyFrom(`${plain.key}.pub`), {
      message: `${plain.key}.pub: a public key; --sign takes the private key (the file without .pub)`,
    });
    await t.rejects(signingKeyFrom(join(dir, 'missing')), {
      message: `${join(dir, 'missing')}: cannot read the signing key (ENOENT)`,
    });
    const locked = keyPair('locked', 'ed25519', 'sesame');
    await t.rejects(signingKeyFrom(locked.key), {
      message: `${locked.key}: the key is encrypted; set ${SIGN_PASSPHRASE_ENV} to its passphrase`,
    });
    process.env[SIGN_PASSPHRASE_ENV] = 'sesame';
    t.teardown(() => {
      delete process.env[SIGN_PASSPHRASE_ENV];
    });
    const unlocked = await signingKeyFrom(locked.key);
    const accepted = sshKeygenVerify({
      allowed: `ops ${locked.publicLine}\n`,
      identity: 'ops',
      signature: manifestSignature({ manifestBytes, key: unlocked }),
    });
    t.equal(accepted.status, 0);
  },
);

t.test("OpenSSH pattern lists: globs, and a matching '!' vetoes", async (t) => {
  t.ok(matchesPatternList('effnet-edge', 'git,effnet-*'));
  t.ok(matchesPatternList('ci@lab', 'ops,ci@?ab'));
  t.notOk(matchesPatternList('effnet-edge', 'effnet-*,!effnet-edge'));
  t.notOk(matchesPatternList('effnet.edge', 'effnet-edge'));
});
