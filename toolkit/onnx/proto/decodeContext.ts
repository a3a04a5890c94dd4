/** What every decoder shares: the tally of skipped fields, the external tensors found, and two small field readers. */
import type { Tensor } from '../ir.js';
import { StringStringEntryField } from '../schema.js';
import { type WireReader, WireType } from '../wire.js';

/** Collects what decoding found along the way: tensors stored outside the file and fields dropped. */
export class DecodeContext {
  readonly externalTensors: Tensor[] = [];
  private readonly skipped = new Map<string, number>();

  skip(what: string): void {
    this.skipped.set(what, (this.skipped.get(what) ?? 0) + 1);
  }

  warnings(): string[] {
    return [...this.skipped].map(([what, n]) => `ignored ${n} × ${what}`);
  }
}

/** Empty doc strings are left out, so that a decoded model equals one built without them. */
export function setDoc(target: { docString?: string }, doc: string): void {
  if (doc !== '') target.docString = doc;
}

export function decodeEntry(r: WireReader): { key: string; value: string } {
  const out = { key: '', value: '' };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case StringStringEntryField.key:
        r.expect(wt, WireType.LEN);
        out.key = r.string();
        break;
      case StringStringEntryField.value:
        r.expect(wt, WireType.LEN);
        out.value = r.string();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}
