/**
 * TensorRT calibration cache (text): a header `TRT-<version>-<Algorithm>`, then one line per tensor
 * `name: <8 hex digits>`, the big-endian IEEE-754 float32 of the scale = amax / 127.
 * Example: `images: 3c010a14` is scale 0.0078759, amax 1.0002.
 */
import { FileFormatError } from '../../toolkit/errors.js';

export type TrtCalibrationAlgorithm =
  | 'EntropyCalibration2'
  | 'EntropyCalibration'
  | 'MinMaxCalibration'
  | 'LegacyCalibration';

export interface TrtCalibrationCache {
  /** TensorRT's integer version as it writes it (8601 for 8.6.1, 100300 for 10.3.0). */
  version: number;
  algorithm: string;
  /** tensor name → scale (amax / 127), in file order. */
  scales: Map<string, number>;
}

const HEADER = /^TRT-(\d+)-([A-Za-z0-9]+)$/;
const LINE = /^(.+): ([0-9a-fA-F]{8})$/;

export function hexFromScale(scale: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, scale, false);
  return view.getUint32(0, false).toString(16).padStart(8, '0');
}

export function scaleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, Number.parseInt(hex, 16), false);
  return view.getFloat32(0, false);
}

export function textFromTrtCache(cache: TrtCalibrationCache): string {
  const lines = [`TRT-${cache.version}-${cache.algorithm}`];
  for (const [name, scale] of cache.scales) lines.push(`${name}: ${hexFromScale(scale)}`);
  return `${lines.join('\n')}\n`;
}

export function trtCacheFromText(options: { text: string; file: string }): TrtCalibrationCache {
  const { text, file } = options;
  const lines = text.split(/\r?\n/);
  const header = HEADER.exec(lines[0]!.trim());
  if (!header) {
    throw new FileFormatError(
      file,
      `line 1: expected a header like 'TRT-8601-EntropyCalibration2', got '${lines[0]!.slice(0, 60)}'`,
    );
  }
  const scales = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const match = LINE.exec(line);
    if (!match) {
      throw new FileFormatError(
        file,
        `line ${i + 1}: expected 'tensor_name: <8 hex digits>', got '${line.slice(0, 80)}'`,
      );
    }
    const scale = scaleFromHex(match[2]!);
    if (!Number.isFinite(scale) || scale < 0) {
      throw new FileFormatError(
        file,
        `line ${i + 1}: scale ${match[2]} of '${match[1]}' decodes to ${scale}; expected a finite non-negative float32`,
      );
    }
    if (scales.has(match[1]!)) throw new FileFormatError(file, `line ${i + 1}: tensor '${match[1]}' appears twice`);
    scales.set(match[1]!, scale);
  }
  return { version: Number(header[1]), algorithm: header[2]!, scales };
}

/**
 * The bundle's cache as the device's TensorRT must read it: same scales, header `header` (this TensorRT's version and
 * the calibrator the shim uses). TensorRT skips a cache from another release without a word and rejects one written
 * for another calibrator; either way it then calibrates on no data.
 */
export function deviceCalibrationCacheText(options: { text: string; file: string; header: string }): string {
  const cache = trtCacheFromText({ text: options.text, file: options.file });
  if (cache.scales.size === 0)
    throw new FileFormatError(options.file, 'has no tensor scales; rebuild the bundle with effnet-edge build');
  const header = HEADER.exec(options.header);
  if (!header) throw new Error(`internal: '${options.header}' is not a calibration cache header`);
  return textFromTrtCache({ version: Number(header[1]), algorithm: header[2]!, scales: cache.scales });
}
