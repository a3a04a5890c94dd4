/**
 * OpenSSH's allowed_signers file (ssh-keygen(1), "ALLOWED SIGNERS"): `principals [options] keytype base64-key
 * [comment]` per line, principals and `namespaces="…"` as OpenSSH pattern lists, `valid-after`/`valid-before`
 * windows, `cert-authority` lines (which vouch only for certificates, so never for a plain key's signature).
 */
import { sshPatternsMatch } from '../sshPatterns.js';

export interface AllowedSigner {
  line: number;
  principals: string;
  publicKey: Buffer;
  keyType: string;
  namespaces: string | null;
  certAuthority: boolean;
  validAfter: Date | null;
  validBefore: Date | null;
}

export class AllowedSignersError extends Error {}

/** OpenSSH's comma-separated pattern list, compared exactly (principals and namespaces are case-sensitive). */
export function matchesPatternList(value: string, list: string): boolean {
  return sshPatternsMatch(value, list.split(','), { ignoreCase: false });
}

/** `YYYYMMDD[HHMM[SS]][Z]`: UTC with the Z, local time without, as ssh-keygen reads it. */
function signerTime(value: string, line: number): Date {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(value);
  if (!match) throw new AllowedSignersError(`line ${line}: time '${value}' is not YYYYMMDD[HHMM[SS]][Z]`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', zulu] = match;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  return zulu ? new Date(Date.UTC(...parts)) : new Date(...parts);
}

/** Splits on spaces outside double quotes (an option's value may be quoted). */
function fieldsOf(text: string): string[] {
  return text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

function optionsOf(
  token: string,
  line: number,
): Pick<AllowedSigner, 'namespaces' | 'certAuthority' | 'validAfter' | 'validBefore'> {
  const options = {
    namespaces: null as string | null,
    certAuthority: false,
    validAfter: null as Date | null,
    validBefore: null as Date | null,
  };
  for (const option of token.match(/(?:[^,"]+|"[^"]*")+/g) ?? []) {
    const [name = '', ...rest] = option.split('=');
    const value = rest.join('=').replace(/^"|"$/g, '');
    if (name === 'cert-authority') options.certAuthority = true;
    else if (name === 'namespaces') options.namespaces = value;
    else if (name === 'valid-after') options.validAfter = signerTime(value, line);
    else if (name === 'valid-before') options.validBefore = signerTime(value, line);
    else throw new AllowedSignersError(`line ${line}: unknown option '${name}'`);
  }
  return options;
}

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

export function allowedSignersFrom(text: string): AllowedSigner[] {
  const signers: AllowedSigner[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = index + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [principals = '', ...rest] = fieldsOf(trimmed);
    const hasOptions = rest[0] !== undefined && !KEY_TYPE.test(rest[0]);
    const [keyType, key] = hasOptions ? [rest[1], rest[2]] : [rest[0], rest[1]];
    if (!keyType || !key || !KEY_TYPE.test(keyType))
      throw new AllowedSignersError(`line ${line}: expected 'principals [options] keytype base64-key'`);
    signers.push({
      line,
      principals: principals.replace(/^"|"$/g, ''),
      keyType,
      publicKey: Buffer.from(key, 'base64'),
      ...(hasOptions
        ? optionsOf(rest[0]!, line)
        : { namespaces: null, certAuthority: false, validAfter: null, validBefore: null }),
    });
  }
  return signers;
}

/** The line that lets `publicKey` sign in `namespace` at `now`, or null. */
export function signerFor(options: {
  signers: AllowedSigner[];
  publicKey: Buffer;
  namespace: string;
  now: Date;
}): AllowedSigner | null {
  return (
    options.signers.find(
      (s) =>
        !s.certAuthority &&
        s.publicKey.equals(options.publicKey) &&
        (s.namespaces === null || matchesPatternList(options.namespace, s.namespaces)) &&
        (s.validAfter === null || options.now >= s.validAfter) &&
        (s.validBefore === null || options.now < s.validBefore),
    ) ?? null
  );
}
