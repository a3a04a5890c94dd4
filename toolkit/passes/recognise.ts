/**
 * Recognise EfficientNet's building blocks in a (BN-folded) graph: SiLU as Sigmoid + Mul, squeeze-and-excitation
 * (GlobalAveragePool → Conv → act → Conv → Sigmoid → Mul with the pooled tensor), depthwise convolutions, residual
 * Adds with their identity input, and whole MBConv blocks named as the seed names them (`2a`, `2b`, …).
 * Pure: reads the graph, returns what it found and a report; the quantizer places Q/DQ from this.
 */
import { consumerMap, initializerMap, producerMap } from '../onnx/graph.js';
import type { Model, Node, Tensor } from '../onnx/ir.js';
import { graphLayersOf } from '../model/summaryFromOnnx.js';
import type { PassReport } from './pass.js';

export interface SiluMatch {
  sigmoid: Node;
  mul: Node;
  input: string;
  output: string;
}

export interface SeMatch {
  pool: Node;
  reduce: Node;
  expand: Node;
  gate: Node;
  scale: Node;
  /** The tensor being excited (pooled and multiplied). */
  input: string;
  /** The sigmoid's output, multiplied in. */
  gateOutput: string;
}

export interface ResidualMatch {
  add: Node;
  identity: string;
  branch: string;
}

export interface BlockMatch {
  /** The seed's block name (`2a`) when the network is recognised, else the depthwise node's name. */
  name: string;
  depthwise: Node;
  expand?: Node;
  project?: Node;
  se?: SeMatch;
  residual?: ResidualMatch;
  /** SiLU after the expand and depthwise convs. */
  activations: SiluMatch[];
}

export interface Structure {
  silu: SiluMatch[];
  se: SeMatch[];
  depthwise: Node[];
  residuals: ResidualMatch[];
  blocks: BlockMatch[];
}

const isConv = (node: Node | undefined): boolean => node?.opType === 'Conv' && node.domain === '';

/** The lookups every matcher reads, built once per graph. */
interface GraphIndex {
  model: Model;
  producers: Map<string, Node>;
  consumers: Map<string, Node[]>;
  initializers: Map<string, Tensor>;
}

export function structureOf(model: Model): { structure: Structure; report: PassReport } {
  const { graph } = model;
  const index = {
    model,
    producers: producerMap(graph),
    consumers: consumerMap(graph),
    initializers: initializerMap(graph),
  };
  const silu = siluMatchesOf(index);
  const convBehind = convBehindActivations(index, silu);
  const se = seMatchesOf(index, silu, convBehind);
  const depthwise = depthwiseConvsOf(index);
  const residuals = residualMatchesOf(index);
  const blocks = blockMatchesOf({ index, silu, se, depthwise, residuals, convBehind });
  const counts = {
    silu: silu.length,
    se: se.length,
    depthwise: depthwise.length,
    residual: residuals.length,
    blocks: blocks.length,
  };
  return {
    structure: { silu, se, depthwise, residuals, blocks },
    report: {
      pass: 'recognise',
      summary: `MBConv blocks: ${blocks.length} (depthwise ${depthwise.length}, SE ${se.length}, residual ${residuals.length}), SiLU: ${silu.length}`,
      counts,
    },
  };
}

/** Mul(x, Sigmoid(x)), either input order. */
function siluMatchesOf({ model, producers }: GraphIndex): SiluMatch[] {
  const silu: SiluMatch[] = [];
  for (const mul of model.graph.nodes) {
    if (mul.opType !== 'Mul' || mul.inputs.length !== 2) continue;
    for (const [gateIndex, inputIndex] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const sigmoid = producers.get(mul.inputs[gateIndex]!);
      if (sigmoid?.opType === 'Sigmoid' && sigmoid.inputs[0] === mul.inputs[inputIndex]) {
        silu.push({ sigmoid, mul, input: mul.inputs[inputIndex]!, output: mul.outputs[0]! });
        break;
      }
    }
  }
  return silu;
}

type ConvBehind = (name: string) => Node | undefined;

/** The conv behind an activation output (through SiLU, Relu, Clip or HardSwish), or the conv itself. */
function convBehindActivations({ producers }: GraphIndex, silu: SiluMatch[]): ConvBehind {
  const siluByOutput = new Map(silu.map((s) => [s.output, s]));
  const convBehind = (name: string): Node | undefined => {
    const node = producers.get(name);
    if (node && isConv(node)) return node;
    const act = siluByOutput.get(name);
    if (act) return convBehind(act.input);
    if (node && ['Relu', 'Clip', 'HardSwish'].includes(node.opType)) return convBehind(node.inputs[0]!);
    return undefined;
  };
  return convBehind;
}

/** Mul(x, Sigmoid(Conv(act(Conv(pool(x)))))), either input order; a SiLU's Mul is never one. */
function seMatchesOf({ model, producers }: GraphIndex, silu: SiluMatch[], convBehind: ConvBehind): SeMatch[] {
  const siluMuls = new Set(silu.map((s) => s.mul));
  const se: SeMatch[] = [];
  for (const scale of model.graph.nodes) {
    if (scale.opType !== 'Mul' || siluMuls.has(scale) || scale.inputs.length !== 2) continue;
    for (const [gateIndex, inputIndex] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const gate = producers.get(scale.inputs[gateIndex]!);
      if (gate?.opType !== 'Sigmoid') continue;
      const expand = producers.get(gate.inputs[0]!);
      if (!expand || !isConv(expand)) continue;
      const reduce = convBehind(expand.inputs[0]!);
      const pool = reduce ? producers.get(reduce.inputs[0]!) : undefined;
      if (!reduce || !pool || !['GlobalAveragePool', 'ReduceMean'].includes(pool.opType)) continue;
      if (pool.inputs[0] !== scale.inputs[inputIndex]) continue;
      se.push({
        pool,
        reduce,
        expand,
        gate,
        scale,
        input: scale.inputs[inputIndex]!,
        gateOutput: scale.inputs[gateIndex]!,
      });
      break;
    }
  }
  return se;
}

/** Convs with one input channel per group and as many groups as output channels. */
function depthwiseConvsOf({ model, initializers }: GraphIndex): Node[] {
  return model.graph.nodes.filter((node) => {
    if (!isConv(node)) return false;
    const group = node.attributes.group;
    const weight = initializers.get(node.inputs[1]!);
    const groups = group?.type === 'int' ? Number(group.value) : 1;
    return groups > 1 && weight !== undefined && weight.dims[1] === 1 && weight.dims[0] === groups;
  });
}

function residualMatchesOf({ model, producers, consumers, initializers }: GraphIndex): ResidualMatch[] {
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name));
  const isActivation = (name: string) => !initializers.has(name) && (producers.has(name) || graphInputs.has(name));
  const residuals: ResidualMatch[] = [];
  for (const add of model.graph.nodes) {
    if (add.opType !== 'Add' || add.inputs.length !== 2 || !add.inputs.every(isActivation)) continue;
    const [a, b] = add.inputs as [string, string];
    // In a residual block the shortcut also feeds the block's first conv; the branch feeds only this Add.
    const fanOut = (name: string) => (consumers.get(name) ?? []).length;
    let identity = fanOut(a) > fanOut(b) ? a : fanOut(b) > fanOut(a) ? b : undefined;
    if (identity === undefined) identity = isConv(producers.get(a)) && !isConv(producers.get(b)) ? b : a;
    residuals.push({ add, identity, branch: identity === a ? b : a });
  }
  return residuals;
}

/** One block per depthwise conv, with the expand conv, SiLUs, SE, projection and residual around it. */
function blockMatchesOf(options: {
  index: GraphIndex;
  silu: SiluMatch[];
  se: SeMatch[];
  depthwise: Node[];
  residuals: ResidualMatch[];
  convBehind: ConvBehind;
}): BlockMatch[] {
  const { index, silu, se, depthwise, residuals, convBehind } = options;
  const { consumers, initializers } = index;
  const siluByOutput = new Map(silu.map((s) => [s.output, s]));
  const names = new Map<Node, string>();
  for (const { node, layer } of graphLayersOf(index.model)) if (layer.block) names.set(node, layer.block);
  const seByInput = new Map(se.map((s) => [s.input, s]));
  const residualByBranch = new Map(residuals.map((r) => [r.branch, r]));
  return depthwise.map((dw) => {
    const activations: SiluMatch[] = [];
    // An expand conv is a pointwise conv + activation right before the depthwise one; without the activation the
    // conv is the previous block's projection (expand ratio 1).
    const expandAct = siluByOutput.get(dw.inputs[0]!);
    const expand = expandAct ? convBehind(dw.inputs[0]!) : undefined;
    const expandIsPointwise =
      expand !== undefined &&
      !depthwise.includes(expand) &&
      initializers
        .get(expand.inputs[1]!)
        ?.dims.slice(2)
        .every((k) => k === 1);
    if (expandIsPointwise && expandAct) activations.push(expandAct);
    const dwOut = dw.outputs[0]!;
    const dwAct = (consumers.get(dwOut) ?? [])
      .map((n) => silu.find((s) => s.sigmoid === n || s.mul === n))
      .find((s) => s !== undefined);
    if (dwAct) activations.push(dwAct);
    const excited = dwAct?.output ?? dwOut;
    const seMatch = seByInput.get(excited);
    const projectInput = seMatch ? seMatch.scale.outputs[0]! : excited;
    const project = (consumers.get(projectInput) ?? []).find((n) => isConv(n) && n !== seMatch?.pool);
    const residual = project ? residualByBranch.get(project.outputs[0]!) : undefined;
    return {
      name: names.get(dw) ?? (dw.name || dwOut),
      depthwise: dw,
      ...(expandIsPointwise ? { expand: expand! } : {}),
      ...(project ? { project } : {}),
      ...(seMatch ? { se: seMatch } : {}),
      ...(residual ? { residual } : {}),
      activations,
    };
  });
}
