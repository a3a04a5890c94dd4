/** sha256 of bytes and files, as lowercase hex (what `sha256sum` prints). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of a file, or of its first `length` bytes (a resumed upload checks the prefix already on the device). */
export async function sha256OfFile(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  if (length !== 0)
    for await (const chunk of createReadStream(path, length === undefined ? {} : { end: length - 1 }))
      hash.update(chunk as Buffer);
  return hash.digest('hex');
}
