/** What the report page is made from: plain data, so the page is a pure function of it (the same input, the same bytes). */
import type { PairedTop1 } from '../paired.js';

export interface ReportAccuracy {
  fp32: { top1: number | null; top5: number | null };
  int8: { top1: number | null; top5: number | null };
  agreement: number;
  cosine: number;
  images: number;
  /** fp32 vs int8 top-1 as paired data; absent or null on unlabelled images. */
  paired?: PairedTop1 | null;
}

/** One runtime's bounds from the manifest that the evaluation's numbers are coloured against. */
export interface ReportThreshold {
  runtime: string;
  minTop1: number | null;
  minAgreement: number;
  minCosine: number;
}

/** One of a model's most likely classes for an image, with its softmax probability in percent. */
export interface ClassScore {
  name: string;
  percent: number;
}

/** An image whose top-1 class is not the same in fp32 and int8. */
export interface FlippedImage {
  /** The image's path relative to the dataset root. */
  name: string;
  /** Class name, or null on unlabelled images. */
  label: string | null;
  /** `right→wrong`, `wrong→right`, or `changed` (both wrong, or no label). */
  kind: 'right→wrong' | 'wrong→right' | 'changed';
  /** data: URI of a small JPEG, so the page stays one file; null when the file could not be read again. */
  thumbnail: string | null;
  fp32: ClassScore[];
  int8: ClassScore[];
}

/** Every evaluation image's top-1 under both models, and the flipped ones to show. */
export interface ReportPredictions {
  classes: string[];
  /** Per image; -1 where unlabelled. */
  labels: number[];
  fp32Top1: number[];
  int8Top1: number[];
  /** The flipped images shown, at most a cap, in a fixed order. */
  flipped: FlippedImage[];
  /** How many images flipped in all. */
  flippedTotal: number;
}

export interface ReportInput {
  title: string;
  accuracy?: ReportAccuracy;
  /** The manifest's device thresholds, per runtime; absent outside `build`. */
  thresholds?: ReportThreshold[];
  predictions?: ReportPredictions;
  /** Evaluation warnings (eval/warnings.ts), shown first. */
  warnings?: string[];
  /** SQNR in dB per quantized tensor, in graph order. */
  sqnr?: { tensor: string; sqnrDb: number }[];
  /** Logit cosine to fp32 with one layer quantized, most sensitive first. */
  sensitivities?: { node: string; cosine: number; agreement: number }[];
  /** Every calibrator tried, and the one chosen (its label). */
  calibrators?: { scores: { label: string; cosine: number; agreement: number }[]; chosen: string | null };
  notes?: string[];
}
