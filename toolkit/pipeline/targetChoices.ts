/** What a target settles for a build: the precision it runs and the weight range its int8 kernels need. */
import { arch } from 'node:os';
import type { Precision, Target } from '../../targets/load.js';
import { FieldError, UserError } from '../errors.js';
import { weightRangeFor, type WeightRange } from '../quant/cpu.js';

/** The precision to build: the requested one if the target runs it, else a clear refusal. */
export function precisionFor(target: Target, requested: string | undefined): Precision {
  const precision = (requested ?? target.defaultPrecision) as Precision;
  if (!['int8', 'fp16', 'fp32'].includes(precision))
    throw new FieldError({
      field: 'precision',
      value: precision,
      expected: 'int8, fp16 or fp32',
      problem: `expects int8, fp16 or fp32, got '${precision}'`,
      exitCode: 1,
    });
  if (precision === 'int8' && !target.fastInt8) {
    throw new UserError(
      `${target.name} (SM ${target.sm}) has no fast int8 path; TensorRT would run int8 slower than fp16 there. Build with --precision fp16`,
    );
  }
  if (!target.precisions.includes(precision)) {
    throw new UserError(`${target.name} does not run ${precision}; it runs ${target.precisions.join(', ')}`);
  }
  return precision;
}

/** Weight range for the device, not the build host: x86 CPUs without VNNI need 7-bit weights (FACTS.md). */
export function targetWeightRange(target: Target, requested: WeightRange | 'auto'): WeightRange {
  if (requested !== 'auto') return requested;
  if (target.calibration.weightRange !== 'auto') return target.calibration.weightRange;
  if (target.runtime !== 'onnxruntime' || target.arch !== 'x86_64') return 'full';
  // Only when building on a machine of the target's kind do we know its CPU; otherwise the safe choice.
  return arch() === 'x64' ? weightRangeFor({ requested: 'auto', runtime: 'onnxruntime' }) : 'reduced';
}
