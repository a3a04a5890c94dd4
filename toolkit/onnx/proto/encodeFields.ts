/** Small writes every encoder shares, and the string order that keeps output byte-identical across machines. */
import { StringStringEntryField } from '../schema.js';
import { WireType, type WireWriter } from '../wire.js';

/** Empty strings are proto3 defaults: leaving them out keeps output identical to onnx's own serializer. */
export function optionalString(w: WireWriter, field: number, value: string | undefined): void {
  if (value !== undefined && value !== '') w.tag(field, WireType.LEN).string(value);
}

export function encodeEntry(w: WireWriter, field: number, key: string, value: string): void {
  w.fork();
  w.tag(StringStringEntryField.key, WireType.LEN).string(key);
  w.tag(StringStringEntryField.value, WireType.LEN).string(value);
  w.join(field);
}

/** Code-unit order, independent of locale, so bytes do not depend on the machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
