/**
 * GPTQ weight rounding (Frantar et al. 2022, the OBQ update column by column): each output channel's integers are
 * chosen in turn, column by column, and the rounding error of each column is pushed onto the columns not yet
 * rounded, weighted by the inverse Hessian, so that ‖(W̃ − W)X‖² = Σ_rows δ H δᵀ (H = X Xᵀ) ends up small. The
 * per-channel scales are given (the nearest-rounding rule's), so only the integers change. Pure Float64 math.
 */
import { roundHalfToEven } from '../numbers.js';

export interface GptqProblem {
  /** rows × cols, row-major: one row per output channel, one column per input feature (Hessian order). */
  weights: Float32Array | Float64Array;
  rows: number;
  cols: number;
  /** cols × cols, row-major, symmetric positive semi-definite: Σ x xᵀ over the calibration inputs. */
  hessian: Float64Array;
  /** One per row. */
  scales: Float32Array;
  qmax: number;
  /** Added to H's diagonal, as a fraction of its mean diagonal (GPTQ's 1 %). */
  dampening?: number;
}

export interface GptqRounding {
  /** rows × cols integers in [−qmax, qmax]. */
  values: Int8Array;
  /** The dampening fraction that made H positive definite (more than asked when Cholesky needed it). */
  dampening: number;
}

export const GPTQ_DAMPENING = 0.01;

/** The integers GPTQ chooses; null when H is zero (no input reached the layer): the caller keeps nearest rounding. */
export function gptqRounded(problem: GptqProblem): GptqRounding | null {
  const { rows, cols, scales, qmax } = problem;
  const factor = inverseCholeskyDamped(problem.hessian, cols, problem.dampening ?? GPTQ_DAMPENING);
  if (!factor) return null;
  const { upper } = factor;
  const w = Float64Array.from(problem.weights);
  const values = new Int8Array(rows * cols);
  for (let i = 0; i < cols; i++) {
    const diagonal = upper[i * cols + i]!;
    for (let r = 0; r < rows; r++) {
      const row = r * cols;
      const scale = scales[r]!;
      const q = clampedRound(w[row + i]! / scale, qmax);
      values[row + i] = q;
      const error = (w[row + i]! - q * scale) / diagonal;
      if (error === 0) continue;
      const uRow = i * cols;
      for (let j = i + 1; j < cols; j++) w[row + j]! -= error * upper[uRow + j]!;
    }
  }
  return { values, dampening: factor.dampening };
}

function clampedRound(x: number, qmax: number): number {
  const q = roundHalfToEven(x);
  return q > qmax ? qmax : Math.max(q, -qmax);
}

/**
 * U upper triangular with UᵀU = (H + λI)⁻¹, λ = `dampening` · mean diag(H), retried with 10× more dampening while
 * Cholesky meets a non-positive pivot (rounding in a nearly singular H). A zero diagonal entry (an input that was
 * always zero) gets 1 there, as GPTQ does: its column then rounds to nearest and passes no error on.
 */
export function inverseCholeskyDamped(
  hessian: Float64Array,
  n: number,
  dampening: number,
): { upper: Float64Array; dampening: number } | null {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += hessian[i * n + i]!;
  if (!(trace > 0)) return null;
  for (let damp = dampening; damp <= 1e3 * Math.max(dampening, 1e-6); damp *= 10) {
    const h = Float64Array.from(hessian);
    const lambda = (damp * trace) / n;
    for (let i = 0; i < n; i++) h[i * n + i] = h[i * n + i]! === 0 ? 1 : h[i * n + i]! + lambda;
    const upper = upperCholeskyOfInverse(h, n);
    if (upper) return { upper, dampening: damp };
  }
  return null;
}

/**
 * U upper triangular with UᵀU = H⁻¹, from one Cholesky and one triangular inverse: with J the order reversal,
 * J H J = L Lᵀ gives H = V Vᵀ with V = J L J upper, so H⁻¹ = V⁻ᵀ V⁻¹ and U = V⁻¹ = J L⁻¹ J. Null when H is not
 * positive definite.
 */
export function upperCholeskyOfInverse(h: Float64Array, n: number): Float64Array | null {
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) reversed[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)]!;
  const lower = lowerCholesky(reversed, n);
  if (!lower) return null;
  const inverse = lowerTriangularInverse(lower, n);
  const upper = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) upper[i * n + j] = inverse[(n - 1 - i) * n + (n - 1 - j)]!;
  return upper;
}

/** L lower triangular with L Lᵀ = A (row-major), or null at a non-positive pivot. */
export function lowerCholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * n;
      let sum = a[rowI + j]!;
      for (let k = 0; k < j; k++) sum -= l[rowI + k]! * l[rowJ + k]!;
      if (i === j) {
        if (!(sum > 0)) return null;
        l[rowI + i] = Math.sqrt(sum);
      } else {
        l[rowI + j] = sum / l[rowJ + j]!;
      }
    }
  }
  return l;
}

/** The inverse of a lower triangular matrix (itself lower triangular), row by row (contiguous reads). */
export function lowerTriangularInverse(l: Float64Array, n: number): Float64Array {
  const inverse = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    // Row i of L⁻¹: (e_i − Σ_{k<i} l_ik · row k of L⁻¹) / l_ii.
    for (let k = 0; k < i; k++) {
      const a = l[rowI + k]!;
      if (a === 0) continue;
      const rowK = k * n;
      for (let j = 0; j <= k; j++) inverse[rowI + j]! -= a * inverse[rowK + j]!;
    }
    const pivot = l[rowI + i]!;
    for (let j = 0; j < i; j++) inverse[rowI + j] = inverse[rowI + j]! / pivot;
    inverse[rowI + i] = 1 / pivot;
  }
  return inverse;
}

/** ‖(W̃ − W)X‖² = Σ_rows δ H δᵀ with δ = q·s − w: the objective GPTQ lowers, for comparing roundings. */
export function roundingObjective(options: {
  weights: Float32Array | Float64Array;
  values: Int8Array;
  scales: Float32Array;
  rows: number;
  cols: number;
  hessian: Float64Array;
}): number {
  const { weights, values, scales, rows, cols, hessian } = options;
  const delta = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) delta[c] = values[r * cols + c]! * scales[r]! - weights[r * cols + c]!;
    // H is symmetric: the diagonal once, each upper entry twice.
    for (let i = 0; i < cols; i++) {
      if (delta[i] === 0) continue;
      const row = i * cols;
      let sum = 0;
      for (let j = i + 1; j < cols; j++) sum += hessian[row + j]! * delta[j]!;
      total += delta[i]! * (hessian[row + i]! * delta[i]! + 2 * sum);
    }
  }
  return total;
}
