/**
 * The trtexec command that builds a bundle's engine on a device where effnet-edge cannot run (JetPack 4: Ubuntu
 * 18.04's glibc 2.27 is older than Node.js 20 needs), with the layer information `effnet-edge engine report` reads
 * back on any machine. Flags as trtexec spells them in the release given (TensorRT's samples/trtexec README per tag):
 * `--workspace=MiB` before 8.4, `--memPoolSize=workspace:MiB` from 8.4; `--profilingVerbosity=detailed` and
 * `--exportLayerInfo` from 8.2 (8.0 has no engine inspector).
 */
import type { Precision } from '../../targets/load.js';
import type { TrtRelease } from './trtPlan.js';

export interface TrtexecOptions {
  release: TrtRelease;
  precision: Precision;
  /** The bundle's ONNX for that precision, relative to where the command runs (the bundle folder). */
  onnx: string;
  inputName: string;
  inputSize: number;
  maxBatch: number;
  workspaceMiB: number;
}

/** The engine the command writes, and the layer information beside it. */
export const TRTEXEC_ENGINE = 'model.plan';
export const TRTEXEC_LAYER_INFO = 'layers.json';

/** argv of the trtexec run (JetPack installs it as /usr/src/tensorrt/bin/trtexec). */
export function trtexecArgsFor(options: TrtexecOptions): string[] {
  const { release, precision, inputName, inputSize } = options;
  const atLeast = (major: number, minor: number) =>
    release.major > major || (release.major === major && release.minor >= minor);
  const shape = (batch: number) => `${inputName}:${batch}x3x${inputSize}x${inputSize}`;
  return [
    // int8: the Q/DQ graph (explicit quantization), fp16 beside it for the layers it leaves in float.
    '/usr/src/tensorrt/bin/trtexec',
    `--onnx=${options.onnx}`,
    ...(precision === 'int8' ? ['--int8', '--fp16'] : precision === 'fp16' ? ['--fp16'] : []),
    `--minShapes=${shape(1)}`,
    `--optShapes=${shape(1)}`,
    `--maxShapes=${shape(options.maxBatch)}`,
    atLeast(8, 4) ? `--memPoolSize=workspace:${options.workspaceMiB}` : `--workspace=${options.workspaceMiB}`,
    `--saveEngine=${TRTEXEC_ENGINE}`,
    ...(atLeast(8, 2) ? ['--profilingVerbosity=detailed', `--exportLayerInfo=${TRTEXEC_LAYER_INFO}`] : []),
  ];
}
