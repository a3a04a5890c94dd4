/**
 * The uint8 tensor each converted op writes. Where the Q/DQ graph quantizes the op's output, its scale is kept
 * (zero point 128 for an int8 tensor: the same values; a uint8 one's own). Where the Q/DQ graph leaves a float tensor between two quantized ops, the
 * QOperator graph must still quantize it; the choices below are the ones ONNX Runtime's QOperator quantizer makes
 * (asymmetric uint8 over [min(rmin, 0), max(rmax, 0)]), with the range taken from what the neighbours allow
 * since the bundle carries no calibrated range for these tensors.
 */
import type { Node } from '../../onnx/ir.js';
import { silu } from '../../runtime/int8/lower/tables.js';
import { SILU_MIN } from '../activationScale.js';
import { type QOperatorDraft, type Quantized, uint8ZeroPointOf } from './draft.js';

/** A scale and zero point chosen for a tensor the Q/DQ graph keeps in float. */
export type Chosen = Omit<Quantized, 'tensor'>;

/** The op's uint8 output for its float output `float`, recorded in the draft; `chosen` when nothing quantizes it. */
export function outputOf(options: {
  draft: QOperatorDraft;
  node: Node;
  float: string;
  chosen?: (() => Chosen | null) | undefined;
}): Quantized {
  const { draft, node, float } = options;
  const q = draft.view.quantizerOf(float);
  const chosen = q ? null : (options.chosen?.() ?? null);
  if (!q && !chosen) return draft.fail(node, `its output '${float}' is not quantized`);
  const out = q
    ? { tensor: q.quantized, scale: q.scale, zeroPoint: uint8ZeroPointOf(q) }
    : { tensor: `${float}.uint8`, scale: chosen!.scale, zeroPoint: chosen!.zeroPoint };
  draft.represent(float, out);
  return out;
}

/** ORT's quantizer's asymmetric uint8 parameters for a float range. */
export function uint8Range(lo: number, hi: number): Chosen {
  const rmin = Math.min(lo, 0);
  const rmax = Math.max(hi, 0);
  const scale = Math.fround((rmax - rmin) / 255);
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-rmin / scale))) };
}

/**
 * A Sigmoid's output lies in (0, 1). ORT's quantizer fixes it to scale 1/256, zero point 0; here 1/255, so that
 * σ ≈ 1 is 1: with 1/256 the largest level is 255/256 and every large SiLU output shrinks by 0.4 % (measured: 4.2 %
 * of the first SiLU's outputs one step off the Q/DQ model's with 1/256, 0.5 % with 1/255).
 */
export const SIGMOID_OUTPUT: Chosen = { scale: 1 / 255, zeroPoint: 0 };

/** The float range a uint8 tensor covers. */
export function rangeOf(q: Chosen): [number, number] {
  return [(0 - q.zeroPoint) * q.scale, (255 - q.zeroPoint) * q.scale];
}

/**
 * SiLU of a quantized x (the head conv's, which the Q/DQ graph pools in float): the range SiLU maps x's range to,
 * [SiLU's minimum, silu(x's maximum)], which is what calibration of the SiLU output would see at most.
 */
export function siluOutput(x: Chosen): Chosen {
  return uint8Range(SILU_MIN, silu(rangeOf(x)[1]));
}

/**
 * The float input of a Sigmoid whose output is quantized with scale g and uint8 zero point z (the squeeze-excitation's
 * FC2 output): inputs below logit(g/2) all give gate 0, and the largest gate level is (255 − z)·g (127·g for a
 * symmetric int8 gate, 255·g for a uint8 one from 0), so [logit(g/2), logit((255.5 − z)·g)] is the range
 * calibration would have seen, at most.
 */
export function sigmoidInputFor(gate: Chosen): Chosen {
  const logit = (p: number) => Math.log(p / (1 - p));
  const half = Math.min(gate.scale / 2, 0.25);
  return uint8Range(logit(half), logit(Math.min((255.5 - gate.zeroPoint) * gate.scale, 1 - half)));
}
