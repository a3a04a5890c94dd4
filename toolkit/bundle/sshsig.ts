/**
 * The SSHSIG format of `ssh-keygen -Y sign` (OpenSSH's PROTOCOL.sshsig), for ed25519 keys: the armored signature
 * file and the blob a key actually signs. Pure byte work; keys are handled by signature.ts.
 */
import { createHash } from 'node:crypto';

const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;
const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';
/** ssh-keygen wraps the base64 at 70 columns. */
const ARMOR_COLUMNS = 70;
/** What ssh-keygen uses by default and what we write; sha256 is accepted too. */
export const SIGNED_HASH = 'sha512';

export interface SshSignature {
  /** The signer's public key blob (string "ssh-ed25519", string key). */
  publicKey: Buffer;
  namespace: string;
  hashAlgorithm: string;
  /** The signature blob (string "ssh-ed25519", string 64-byte signature). */
  signature: Buffer;
}

export class SshSigFormatError extends Error {}

function sshString(bytes: Buffer | string): Buffer {
  const body = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** Reads SSH wire strings one after the other, refusing a length that runs past the end. */
class WireReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}
  uint32(): number {
    if (this.offset + 4 > this.bytes.length) throw new SshSigFormatError('it ends inside a length field');
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  string(): Buffer {
    const length = this.uint32();
    if (this.offset + length > this.bytes.length) throw new SshSigFormatError('a field runs past its end');
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  raw(length: number): Buffer {
    if (this.offset + length > this.bytes.length) throw new SshSigFormatError('it is too short');
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  get done(): boolean {
    return this.offset === this.bytes.length;
  }
}

/** The bytes the key signs: the preamble, namespace, reserved, hash algorithm and the message's hash. */
export function signedData(options: { message: Buffer; namespace: string; hashAlgorithm: string }): Buffer {
  const digest = createHash(options.hashAlgorithm).update(options.message).digest();
  return Buffer.concat([
    MAGIC,
    sshString(options.namespace),
    sshString(''),
    sshString(options.hashAlgorithm),
    sshString(digest),
  ]);
}

export function armoredSignature(signature: SshSignature): string {
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  const blob = Buffer.concat([
    MAGIC,
    version,
    sshString(signature.publicKey),
    sshString(signature.namespace),
    sshString(''),
    sshString(signature.hashAlgorithm),
    sshString(signature.signature),
  ]).toString('base64');
  const lines = blob.match(new RegExp(`.{1,${ARMOR_COLUMNS}}`, 'g')) ?? [];
  return `${[ARMOR_BEGIN, ...lines, ARMOR_END].join('\n')}\n`;
}

export function parsedSignature(text: string): SshSignature {
  const trimmed = text.trim();
  if (!trimmed.startsWith(ARMOR_BEGIN) || !trimmed.endsWith(ARMOR_END))
    throw new SshSigFormatError(`it is not an armored SSH signature (expected ${ARMOR_BEGIN} … ${ARMOR_END})`);
  const base64 = trimmed.slice(ARMOR_BEGIN.length, -ARMOR_END.length).replace(/\s+/g, '');
  const reader = new WireReader(Buffer.from(base64, 'base64'));
  if (!reader.raw(MAGIC.length).equals(MAGIC)) throw new SshSigFormatError('it does not start with SSHSIG');
  const version = reader.uint32();
  if (version !== VERSION) throw new SshSigFormatError(`its version is ${version}, expected ${VERSION}`);
  const publicKey = reader.string();
  const namespace = reader.string().toString();
  reader.string(); // reserved
  const hashAlgorithm = reader.string().toString();
  const signature = reader.string();
  if (!reader.done) throw new SshSigFormatError('it has bytes after the signature');
  return { publicKey, namespace, hashAlgorithm, signature };
}

/** The key type named at the start of a public key or signature blob (`ssh-ed25519`). */
export function blobKeyType(blob: Buffer): string {
  return new WireReader(blob).string().toString();
}

/** A signature blob's raw signature bytes (after its algorithm name). */
export function rawSignature(blob: Buffer): { algorithm: string; bytes: Buffer } {
  const reader = new WireReader(blob);
  return { algorithm: reader.string().toString(), bytes: reader.string() };
}

/** The SSH signature blob for raw signature bytes. */
export function signatureBlob(algorithm: string, bytes: Buffer): Buffer {
  return Buffer.concat([sshString(algorithm), sshString(bytes)]);
}
