/**
 * `effnet-edge device-check` (also `npm run device-check`): the Jetson path's one-shot check on a machine with
 * TensorRT and an NVIDIA GPU (toolkit/device/check.ts), written as one JSON file; where it cannot run it says why.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deviceCheckReport, deviceCheckText, deviceCheckWritten } from '../../device/check.js';
import { targetNamed } from '../../../targets/load.js';
import { UsageError } from '../../errors.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, stringOption, stringOrDefault } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';

const DEVICE_CHECK_GROUP: OptionGroup = [
  {
    name: 'target',
    type: 'string',
    placeholder: 'T',
    default: 'jetson-orin-nano',
    help: 'the target the demo bundle is built for (default {default}; a tensorrt target)',
  },
  {
    name: 'out',
    type: 'string',
    placeholder: 'FILE.json',
    default: 'device-check.json',
    help: 'where the report goes (default {default})',
  },
  {
    name: 'work-dir',
    type: 'string',
    placeholder: 'DIR',
    help: 'scratch folder for the demo bundle and its engines (default: a folder in the system temp)',
  },
  {
    name: 'build-dir',
    type: 'string',
    placeholder: 'DIR',
    help: 'where the shim is built (default native/build in the package, where effnet-edge looks)',
  },
  {
    name: 'tensorrt-include',
    type: 'string',
    placeholder: 'DIR',
    help: "TensorRT headers, for the shim (default JetPack's)",
  },
  {
    name: 'tensorrt-lib',
    type: 'string',
    placeholder: 'DIR',
    help: "TensorRT libraries, for the shim (default JetPack's)",
  },
];

export const deviceCheckCommand: Command = {
  name: 'device-check',
  summary:
    "On a TensorRT + NVIDIA GPU machine: build the shim and the demo bundle's engines (Q/DQ, cache, fp16), verify them, report fusion, as one JSON.",
  usage:
    'effnet-edge device-check [--target T] [--out FILE.json] [--work-dir DIR] [--build-dir DIR] [--tensorrt-include DIR] [--tensorrt-lib DIR] [--json]',
  examples: ['effnet-edge device-check', 'npm run device-check -- --out orin-check.json'],
  groups: [DEVICE_CHECK_GROUP, JSON_GROUP],
  async run(args, io) {
    const target = targetNamed(stringOrDefault(args, 'target'));
    if (target.runtime !== 'tensorrt' || target.deviceSide !== 'effnet-edge') {
      throw new UsageError(
        `--target ${target.name} is not a target effnet-edge runs TensorRT on; choose one of the Jetson targets with deviceSide effnet-edge`,
      );
    }
    const out = resolve(stringOrDefault(args, 'out'));
    const json = flag(args, 'json');
    const report = await deviceCheckReport({
      workDir: resolve(stringOption(args, 'work-dir') ?? join(tmpdir(), 'effnet-edge-device-check')),
      target: target.name,
      ...(stringOption(args, 'tensorrt-include')
        ? { tensorrtInclude: resolve(stringOption(args, 'tensorrt-include')!) }
        : {}),
      ...(stringOption(args, 'tensorrt-lib') ? { tensorrtLib: resolve(stringOption(args, 'tensorrt-lib')!) } : {}),
      ...(stringOption(args, 'build-dir') ? { buildDir: resolve(stringOption(args, 'build-dir')!) } : {}),
      onProgress: (line) => {
        if (!json) io.stderr(`${line}\n`);
      },
    });
    await deviceCheckWritten(out, report);
    if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else io.stdout([...deviceCheckText(report), `report: ${out}`, ''].join('\n'));
    return report.ok ? 0 : 1;
  },
};
