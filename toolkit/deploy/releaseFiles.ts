/** The release a bundle becomes on a device: its id (from the manifest bytes) and the files it holds. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MANIFEST_SIGNATURE_FILE } from '../bundle/signature.js';
import { sha256Of } from '../bundle/hash.js';
import { MANIFEST_FILE, type BundleManifest } from '../bundle/manifest.js';
import type { BundleFile } from './deployContract.js';

/** Same bundle bytes, same id: a rerun lands in the same folder and resumes there. */
export function releaseIdFor(options: { bundle: string; manifestBytes: Uint8Array }): string {
  const name =
    basename(options.bundle)
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[.-]+/, '') || 'bundle';
  return `${name}-${sha256Of(options.manifestBytes).slice(0, 12)}`;
}

export async function bundleFilesOf(options: {
  bundle: string;
  manifest: BundleManifest;
  manifestBytes: Uint8Array;
}): Promise<BundleFile[]> {
  const files: BundleFile[] = Object.entries(options.manifest.files).map(([name, f]) => ({
    name,
    local: join(options.bundle, name),
    sha256: f.sha256,
    size: f.size,
  }));
  files.push({
    name: MANIFEST_FILE,
    local: join(options.bundle, MANIFEST_FILE),
    sha256: sha256Of(options.manifestBytes),
    size: options.manifestBytes.byteLength,
  });
  // A signed bundle's signature travels with it: the device's allowed_signers policy checks it before the switch.
  const signature = join(options.bundle, MANIFEST_SIGNATURE_FILE);
  const signatureBytes = await readFile(signature).catch(() => null);
  if (signatureBytes)
    files.push({
      name: MANIFEST_SIGNATURE_FILE,
      local: signature,
      sha256: sha256Of(signatureBytes),
      size: signatureBytes.byteLength,
    });
  return files.sort((a, b) => a.name.localeCompare(b.name));
}
