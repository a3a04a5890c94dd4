/**
 * The limits below which an evaluation says little, as warning lines with the value, the limit and the fix: the
 * build summary and the report show them, and `build --strict` fails on them.
 */

/** Below this many images a top-1 difference or agreement is mostly noise (one image is a point at 100). */
export const MIN_EVALUATION_IMAGES = 100;
/** A mean logit cosine to fp32 below this: the int8 outputs are no longer a small perturbation of fp32's. */
export const MIN_COSINE = 0.9;
/** Top-1 agreement with fp32 below this (%): int8 changes the class of more than one image in ten. */
export const MIN_AGREEMENT = 90;

export function accuracyWarnings(options: {
  images: number;
  agreement: number | null;
  cosine: number | null;
  /** How to give more evaluation images with this command, e.g. "give --data with at least 100 labelled images". */
  imagesFix: string;
}): string[] {
  const { images, agreement, cosine } = options;
  const warnings: string[] = [];
  if (images < MIN_EVALUATION_IMAGES)
    warnings.push(
      `${images} evaluation images, fewer than ${MIN_EVALUATION_IMAGES}: top-1 and agreement on so few are mostly noise; ${options.imagesFix}`,
    );
  if (cosine !== null && cosine < MIN_COSINE)
    warnings.push(
      `logit cosine ${cosine.toFixed(4)} to fp32, below ${MIN_COSINE}: the int8 outputs are far from fp32's; try --method auto or more calibration images, and check that the preprocessing (--preset) matches training`,
    );
  if (agreement !== null && agreement < MIN_AGREEMENT)
    warnings.push(
      `top-1 agreement ${agreement.toFixed(2)} % with fp32, below ${MIN_AGREEMENT} %: int8 changes the class of more than 1 image in 10; try --method auto or more calibration images`,
    );
  return warnings;
}
