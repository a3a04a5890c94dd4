/**
 * A device's signing policy: with an allowed_signers file, a bundle runs (verify, and so a deploy's switch) only when
 * its manifest.json.sig verifies against it; without one, bundles need no signature. The file is the one named on
 * the command line, else `<root>/allowed_signers` beside the releases folder the bundle sits in (where deploy and the
 * Ansible role put releases), so a device's policy holds however verify is called there.
 */
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MANIFEST_FILE } from '../bundle/manifest.js';
import { MANIFEST_SIGNATURE_FILE, signatureCheck } from '../bundle/signature.js';
import { UserError } from '../errors.js';
import type { CheckResult } from '../eval/checkReports.js';

export const ALLOWED_SIGNERS_FILE = 'allowed_signers';

async function textOrNull(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new UserError(`${path}: cannot read (${error.code ?? error.message})`);
  });
}

/** The allowed_signers that governs `bundle`, or null when none does. */
export async function allowedSignersFor(options: {
  bundle: string;
  explicit: string | undefined;
}): Promise<{ file: string; text: string } | null> {
  if (options.explicit !== undefined) {
    const text = await textOrNull(options.explicit);
    if (text === null) throw new UserError(`--allowed-signers ${options.explicit}: no such file`);
    return { file: options.explicit, text };
  }
  const real = await realpath(options.bundle).catch(() => options.bundle);
  if (basename(dirname(real)) !== 'releases') return null;
  const file = join(dirname(dirname(real)), ALLOWED_SIGNERS_FILE);
  const text = await textOrNull(file);
  return text === null ? null : { file, text };
}

/** The check verify reports first; a failure means nothing of the bundle is run. */
export async function signatureCheckResult(options: {
  bundle: string;
  policy: { file: string; text: string };
}): Promise<CheckResult> {
  const manifestBytes = await readFile(join(options.bundle, MANIFEST_FILE));
  const signatureText = await textOrNull(join(options.bundle, MANIFEST_SIGNATURE_FILE));
  const result = signatureCheck({ manifestBytes, signatureText, allowedSigners: options.policy.text });
  return {
    name: `${MANIFEST_FILE} is signed by a key in ${options.policy.file}`,
    ok: result.ok,
    measured: result.ok ? `signed by ${result.principals} (${result.fingerprint})` : `the bundle ${result.problem}`,
    allowed: `a signature by a key listed in ${options.policy.file} for namespace effnet-edge`,
  };
}
