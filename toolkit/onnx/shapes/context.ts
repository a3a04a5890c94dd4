/** What every shape rule works with: the known types and constants around one node, and the gap it may hit. */
import type { Attribute, DataTypeCode, Dim, Node, Tensor } from '../ir.js';

/** What inference knows about one value. */
export interface TypeShape {
  elemType: DataTypeCode;
  shape?: Dim[];
}

/** Thrown by rules when a node lacks what they need; caught per node. */
export class InferenceGap extends Error {}

export class NodeContext {
  /** Constant values this node produces (Constant, Shape of a static shape), for later Reshape/Squeeze. */
  readonly produced: [string, Tensor][] = [];

  constructor(
    readonly node: Node,
    private readonly known: Map<string, TypeShape>,
    private readonly constants: Map<string, Tensor>,
  ) {}

  input(i: number): TypeShape | undefined {
    const name = this.node.inputs[i];
    return name === undefined || name === '' ? undefined : this.known.get(name);
  }

  has(i: number): boolean {
    const name = this.node.inputs[i];
    return name !== undefined && name !== '';
  }

  /** The input's shape, or a gap when unknown. */
  shape(i: number): Dim[] {
    const s = this.input(i)?.shape;
    if (s === undefined) throw new InferenceGap();
    return s;
  }

  type(i: number): DataTypeCode {
    return this.input(i)?.elemType ?? 0;
  }

  /** Integer values of a constant input (initializer or Constant output), or undefined if not constant. */
  ints(i: number): number[] | undefined {
    const name = this.node.inputs[i];
    if (name === undefined || name === '') return undefined;
    const t = this.constants.get(name);
    if (t === undefined || Array.isArray(t.data)) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  attr(name: string): Attribute | undefined {
    return this.node.attributes[name];
  }

  int(name: string, fallback: number): number {
    const a = this.attr(name);
    return a?.type === 'int' ? Number(a.value) : fallback;
  }

  intList(name: string): number[] | undefined {
    const a = this.attr(name);
    return a?.type === 'ints' ? a.value.map(Number) : undefined;
  }

  string(name: string, fallback: string): string {
    const a = this.attr(name);
    return a?.type === 'string' ? a.value : fallback;
  }
}

export type Rule = (ctx: NodeContext) => (TypeShape | undefined)[];

/** For an axis given relative to `rank`; throws a gap when out of range. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new InferenceGap();
  return a;
}
