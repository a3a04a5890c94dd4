/** `effnet-edge targets`: the devices a bundle can be built for, from `targets/*.json`. */
import { allTargets, TARGET_ALIASES, type Target } from '../../../targets/load.js';
import type { Command } from '../command.js';
import { flag } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';
import { formatTable } from '../table.js';

function describeRuntime(target: Target): string {
  if (target.runtime === 'tensorrt') return `TensorRT ${target.tensorrt!.join('/')} (JetPack ${target.jetpack})`;
  return target.name === 'npu-generic' ? 'vendor NPU compiler (Q/DQ ONNX)' : 'ONNX Runtime';
}

export const targetsCommand: Command = {
  name: 'targets',
  summary: 'List the devices effnet-edge builds for (one data file each in targets/).',
  usage: 'effnet-edge targets [--json]',
  groups: [JSON_GROUP],
  examples: ['effnet-edge targets', "effnet-edge targets --json | jq -r '.targets[].name'"],
  async run(args, io) {
    const targets = allTargets();
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify({ targets, aliases: TARGET_ALIASES }, null, 2)}\n`);
      return 0;
    }
    io.stdout(
      formatTable(
        [
          { header: 'Target' },
          { header: 'Runtime' },
          { header: 'SM' },
          { header: 'DLA', align: 'right' },
          { header: 'Precisions' },
          { header: 'On device' },
          { header: 'Description' },
        ],
        targets.map((t) => [
          t.name,
          describeRuntime(t),
          t.sm ?? '-',
          t.dlaCores,
          t.precisions.map((p) => (p === t.defaultPrecision ? `${p}*` : p)).join(' '),
          t.deviceSide,
          t.description,
        ]),
      ),
    );
    io.stdout(
      `\n* default precision. On device: what builds and checks the engine there (trtexec: effnet-edge cannot run on that OS; inspect says the command).` +
        ` What was checked per board, and what never ran: effnet-edge targets --json (checked, neverRun).\nAliases: ${Object.entries(
          TARGET_ALIASES,
        )
          .map(([a, t]) => `${a} = ${t}`)
          .join(', ')}\n`,
    );
    return 0;
  },
};
