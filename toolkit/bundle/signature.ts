/**
 * Signed bundles: `build --sign KEY` signs manifest.json (which pins every other file's sha256) the way
 * `ssh-keygen -Y sign -n effnet-edge` does, into manifest.json.sig; a device with an allowed_signers file accepts a
 * bundle only when that signature verifies against one of its lines, as `ssh-keygen -Y verify` would.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { UserError } from '../errors.js';
import { MANIFEST_FILE } from './manifestSchema.js';
import { allowedSignersFrom, AllowedSignersError, signerFor } from './allowedSigners.js';
import {
  armoredSignature,
  blobKeyType,
  parsedSignature,
  rawSignature,
  SIGNED_HASH,
  signatureBlob,
  signedData,
  SshSigFormatError,
} from './sshsig.js';

export const MANIFEST_SIGNATURE_FILE = 'manifest.json.sig';
export const SIGNATURE_NAMESPACE = 'effnet-edge';
/** An encrypted signing key's passphrase comes from here (never from the command line, where `ps` shows it). */
export const SIGN_PASSPHRASE_ENV = 'EFFNET_EDGE_SIGN_PASSPHRASE';

/** `SHA256:…`, as ssh-keygen -l prints a key. */
export function keyFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A private ed25519 key read and checked up front, so a bad `--sign` fails before a long build, not after. */
export interface SigningKey {
  file: string;
  sign(data: Buffer): Buffer;
  publicKey: Buffer;
}

export async function signingKeyFrom(keyFile: string): Promise<SigningKey> {
  const text = await readFile(keyFile).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`${keyFile}: cannot read the signing key (${error.code ?? error.message})`);
  });
  const parsed = ssh2.utils.parseKey(text, process.env[SIGN_PASSPHRASE_ENV]);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new UserError(
      encrypted
        ? `${keyFile}: the key is encrypted; set ${SIGN_PASSPHRASE_ENV} to its passphrase`
        : `${keyFile}: not an OpenSSH private key (${parsed.message}); make one with 'ssh-keygen -t ed25519 -f ${keyFile}'`,
    );
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey())
    throw new UserError(`${keyFile}: a public key; --sign takes the private key (the file without .pub)`);
  if (key.type !== 'ssh-ed25519')
    throw new UserError(`${keyFile}: a ${key.type} key; --sign takes an ed25519 key ('ssh-keygen -t ed25519')`);
  return { file: keyFile, sign: (data) => key.sign(data), publicKey: key.getPublicSSH() };
}

/** manifest.json.sig's text: what `ssh-keygen -Y sign -n effnet-edge` writes for the same key (ed25519 is deterministic). */
export function manifestSignature(options: { manifestBytes: Uint8Array; key: SigningKey }): string {
  const data = signedData({
    message: Buffer.from(options.manifestBytes),
    namespace: SIGNATURE_NAMESPACE,
    hashAlgorithm: SIGNED_HASH,
  });
  return armoredSignature({
    publicKey: options.key.publicKey,
    namespace: SIGNATURE_NAMESPACE,
    hashAlgorithm: SIGNED_HASH,
    signature: signatureBlob('ssh-ed25519', options.key.sign(data)),
  });
}

/** A bundle's files with manifest.json's signature beside it. */
export function withManifestSignature(options: {
  files: ReadonlyMap<string, Uint8Array>;
  key: SigningKey;
}): Map<string, Uint8Array> {
  const manifestBytes = options.files.get(MANIFEST_FILE);
  if (!manifestBytes) throw new Error(`a bundle without ${MANIFEST_FILE} cannot be signed`);
  const signature = manifestSignature({ manifestBytes, key: options.key });
  return new Map([...options.files, [MANIFEST_SIGNATURE_FILE, Buffer.from(signature)]]);
}

export type SignatureCheck = { ok: true; principals: string; fingerprint: string } | { ok: false; problem: string };

function ed25519Verifies(publicKeyBlob: Buffer, data: Buffer, signature: Buffer): boolean {
  const raw = rawSignature(publicKeyBlob).bytes; // the same wire shape: string type, string key
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return verify(null, data, key, signature);
}

/**
 * Whether `signatureText` (null: the bundle has none) signs `manifestBytes` in our namespace with a key that
 * `allowedSigners` (the file's text) lets sign now. The problem, when there is one, reads after "the bundle …".
 */
export function signatureCheck(options: {
  manifestBytes: Buffer;
  signatureText: string | null;
  allowedSigners: string;
  now?: Date;
}): SignatureCheck {
  if (options.signatureText === null)
    return { ok: false, problem: `is not signed (no ${MANIFEST_SIGNATURE_FILE}); build it with --sign KEY` };
  try {
    const signature = parsedSignature(options.signatureText);
    const fingerprint = keyFingerprint(signature.publicKey);
    if (signature.namespace !== SIGNATURE_NAMESPACE)
      return { ok: false, problem: `is signed for namespace '${signature.namespace}', not '${SIGNATURE_NAMESPACE}'` };
    if (blobKeyType(signature.publicKey) !== 'ssh-ed25519' || !['sha512', 'sha256'].includes(signature.hashAlgorithm))
      return {
        ok: false,
        problem: `is signed with ${blobKeyType(signature.publicKey)}/${signature.hashAlgorithm}; only ssh-ed25519 with sha512 or sha256 is accepted`,
      };
    const { algorithm, bytes } = rawSignature(signature.signature);
    const data = signedData({
      message: options.manifestBytes,
      namespace: signature.namespace,
      hashAlgorithm: signature.hashAlgorithm,
    });
    if (algorithm !== 'ssh-ed25519' || !ed25519Verifies(signature.publicKey, data, bytes))
      return {
        ok: false,
        problem: `has a signature by ${fingerprint} that does not match manifest.json (changed after signing?)`,
      };
    const signer = signerFor({
      signers: allowedSignersFrom(options.allowedSigners),
      publicKey: signature.publicKey,
      namespace: SIGNATURE_NAMESPACE,
      now: options.now ?? new Date(),
    });
    if (!signer)
      return {
        ok: false,
        problem: `is signed by ${fingerprint}, which allowed_signers does not allow to sign '${SIGNATURE_NAMESPACE}' now`,
      };
    return { ok: true, principals: signer.principals, fingerprint };
  } catch (error) {
    if (error instanceof SshSigFormatError)
      return { ok: false, problem: `has an unreadable ${MANIFEST_SIGNATURE_FILE}: ${error.message}` };
    if (error instanceof AllowedSignersError)
      return { ok: false, problem: `cannot be checked: allowed_signers ${error.message}` };
    throw error;
  }
}
