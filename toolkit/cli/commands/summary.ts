/** `effnet-edge summary`: the paper's Table 1 view with params, MACs and the seed's FLOPs per stage. */
import { basename } from 'node:path';
import type { Command } from '../command.js';
import { flag, stringOption } from '../command.js';
import { JSON_GROUP, NETWORK_GROUP, networkOptionsFrom } from '../sharedOptions.js';
import { formatTable } from '../table.js';
import { networkConfigFrom } from '../../model/config.js';
import { summaryFromConfig, type ModelSummary } from '../../model/summary.js';
import { summaryFromOnnx } from '../../model/summaryFromOnnx.js';
import { checkedClassifier } from '../../pipeline/buildChecks.js';
import { modelFromFile } from '../../onnx/read.js';
import { UsageError } from '../../errors.js';

export const FLOPS_NOTE =
  "MACs = Co·k²·Ci/groups·Hout·Wout; the seed's FLOPs formula Ci·k²·Co·Hout·Wout ignores groups, so it counts " +
  'each depthwise convolution Ci times over and differs from MACs only on depthwise layers.';

export function stageTableText(summary: ModelSummary): string {
  const rows = summary.stages.map((s) => [
    String(s.paperStage || ''),
    s.name,
    s.operator,
    `${s.resolution}x${s.resolution}`,
    s.channels,
    s.layers,
    s.params,
    s.macs,
    s.seedFormulaFlops,
  ]);
  rows.push(['', 'total', '', '', '', summary.mbconvBlocks, summary.params, summary.macs, summary.seedFormulaFlops]);
  return formatTable(
    [
      { header: 'Stage' },
      { header: 'Name' },
      { header: 'Operator' },
      { header: 'Resolution' },
      { header: 'Channels', align: 'right' },
      { header: 'Layers', align: 'right' },
      { header: 'Params', align: 'right' },
      { header: 'MACs', align: 'right' },
      { header: 'Seed FLOPs', align: 'right' },
    ],
    rows,
  );
}

export function layerTableText(summary: ModelSummary): string {
  return formatTable(
    [
      { header: 'Layer' },
      { header: 'Kind' },
      { header: 'In', align: 'right' },
      { header: 'Out', align: 'right' },
      { header: 'Kernel', align: 'right' },
      { header: 'Stride', align: 'right' },
      { header: 'Groups', align: 'right' },
      { header: 'Output' },
      { header: 'Params', align: 'right' },
      { header: 'MACs', align: 'right' },
      { header: 'Seed FLOPs', align: 'right' },
    ],
    summary.layers.map((l) => [
      l.name,
      l.kind,
      l.inChannels,
      l.outChannels,
      l.kernel,
      l.stride,
      l.groups,
      `${l.outSize}x${l.outSize}`,
      l.params,
      l.macs,
      l.seedFormulaFlops,
    ]),
  );
}

export function summaryJson(summary: ModelSummary, withLayers: boolean): object {
  const { layers, ...rest } = summary;
  return withLayers ? { ...rest, layers } : rest;
}

/** The same recogniser build uses: a graph that is not an EfficientNet-style classifier is refused, not summarised as one. */
async function classifierSummary(path: string): Promise<ModelSummary> {
  const model = await modelFromFile({ path });
  checkedClassifier(model, path);
  return summaryFromOnnx({ model, name: basename(path).replace(/\.onnx$/, '') });
}

export const summaryCommand: Command = {
  name: 'summary',
  summary: "Print an EfficientNet's stages (paper Table 1) with params, MACs and the seed's FLOPs formula.",
  usage: 'effnet-edge summary [--variant b0..b7 | --model FILE.onnx] [--layers] [--json]',
  examples: [
    'effnet-edge summary --variant b3',
    'effnet-edge summary --variant b0 --layers',
    'effnet-edge summary --model model.onnx --json',
  ],
  groups: [
    NETWORK_GROUP,
    [
      {
        name: 'model',
        type: 'string',
        placeholder: 'FILE.onnx',
        help: 'summarise an ONNX graph instead (params from initializers, MACs from shapes)',
      },
      { name: 'layers', type: 'boolean', help: 'print every layer instead of the stage table' },
    ],
    JSON_GROUP,
  ],
  async run(args, io) {
    const modelPath = stringOption(args, 'model');
    const network = networkOptionsFrom(args);
    if (modelPath !== undefined && Object.keys(network).length > 0) {
      throw new UsageError(
        '--model summarises the file as it is: drop --variant, --width, --depth, --resolution and --num-classes',
      );
    }
    const summary =
      modelPath !== undefined ? await classifierSummary(modelPath) : summaryFromConfig(networkConfigFrom(network));
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify(summaryJson(summary, flag(args, 'layers')), null, 2)}\n`);
      return 0;
    }
    const title = `EfficientNet ${summary.variant}: resolution ${summary.resolution}, ${summary.numClasses} classes`;
    io.stdout(
      `${title}\n\n${flag(args, 'layers') ? layerTableText(summary) : stageTableText(summary)}\n${FLOPS_NOTE}\n`,
    );
    return 0;
  },
};
