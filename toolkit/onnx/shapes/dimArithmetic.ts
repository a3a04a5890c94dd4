/** Dim arithmetic with symbols: broadcasting, products, and the dim Reshape's -1 stands for. */
import type { Dim } from '../ir.js';
import { InferenceGap } from './context.js';

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') throw new InferenceGap();
  // A symbol broadcast against n > 1 must equal n (or be 1, which also yields n).
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

export function broadcast(shapes: Dim[][]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s.length - rank + i;
      if (j >= 0) d = broadcastDim(d, s[j]!);
    }
    out.push(d);
  }
  return out;
}

/** Product of dims; a lone symbol times ones keeps the symbol, anything else symbolic is unknown. */
export function product(dims: Dim[]): Dim {
  let n = 1;
  let symbol: Dim | undefined;
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else if (symbol === undefined) symbol = d;
    else return null;
  }
  if (symbol === undefined) return n;
  if (n === 0) return 0;
  return n === 1 ? symbol : null;
}

/** A product split into its numeric factor and the symbols it multiplies, for Reshape's -1. */
function factor(dims: Dim[]): { n: number; symbols: string[] } | undefined {
  let n = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (d === null) return undefined;
    if (typeof d === 'number') n *= d;
    else symbols.push(d);
  }
  return { n, symbols };
}

/** The dim that makes `others` hold as many elements as `input`, or null when that cannot be told. */
export function inferredDim(input: Dim[], others: Dim[]): Dim {
  const a = factor(input);
  const b = factor(others);
  if (a === undefined || b === undefined || b.n === 0) return null;
  const rest = [...a.symbols];
  for (const s of b.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  if (a.n % b.n !== 0) return null;
  const n = a.n / b.n;
  if (rest.length === 0) return n;
  return rest.length === 1 && n === 1 ? rest[0]! : null;
}
