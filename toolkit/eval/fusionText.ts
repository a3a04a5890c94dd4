/** The fusion report as the lines `engine build` and `engine report` print under their own first line. */
import { PRECISIONS, type FusionReport, type LayerFusion } from './fusion.js';

const SHOWN = 5;

export function fusionTextFrom(report: FusionReport): string[] {
  const lines = report.blocks.length > 0 ? blockLines(report) : layerLines(report);
  lines.push(
    `precision: ${
      PRECISIONS.filter((p) => report.precision[p] !== undefined)
        .map((p) => `${p} ${report.precision[p]}`)
        .join(', ') || 'no layers'
    }`,
    `reformat layers: ${report.reformats.count}${report.reformats.noOps ? ` (${report.reformats.noOps} no-op)` : ''}${listed(report.reformats.layers)}`,
    `Q/DQ left as layers of their own (placement kept them from fusing): ${report.unfusedQdq.length}${listed(report.unfusedQdq)}`,
    report.devices
      ? `DLA layers: ${report.devices.dla}, GPU layers: ${report.devices.gpu}`
      : 'device placement not recorded',
    `unmapped layers: ${report.unmappedLayers.length}${listed(report.unmappedLayers)}`,
  );
  if (report.unownedNodes !== null)
    lines.push(`ONNX nodes no layer owns: ${report.unownedNodes.length}${listed(report.unownedNodes)}`);
  return lines;
}

function blockLines(report: FusionReport): string[] {
  const { blocks } = report;
  const unfusedDw = blocks.filter((b) => !b.depthwiseWithSilu).map((b) => b.block);
  const residual = blocks.filter((b) => b.residualWithProject !== null);
  const apart = residual.filter((b) => !b.residualWithProject).map((b) => b.block);
  return [
    `MBConv blocks: ${blocks.length}; engine layers per block: ${blocks.map((b) => `${b.block} ${b.layers}`).join(', ')}`,
    `depthwise conv + SiLU fused in ${blocks.length - unfusedDw.length} of ${blocks.length} blocks${unfusedDw.length ? ` (not in ${unfusedDw.join(', ')})` : ''}`,
    `SE blocks: ${blocks
      .filter((b) => b.seLayers !== null)
      .map((b) => `${b.block} ${b.seLayers}`)
      .join(', ')} engine layers`,
    `residual Add fused into the projection conv in ${residual.length - apart.length} of ${residual.length} blocks${apart.length ? ` (not in ${apart.join(', ')})` : ''}`,
  ];
}

function layerLines(report: FusionReport): string[] {
  const typeWidth = Math.max(4, ...report.layers.map((l) => (l.type ?? '-').length));
  const withNodes = (l: LayerFusion) =>
    (report.unownedNodes !== null || l.evidence === 'metadata') && l.nodes.length > 0;
  const role = { compute: '', copy: ' [reformat]', reformat: ' [reformat]', qdq: ' [Q/DQ]' };
  return [
    'layers (index, type, precision, name[ → ONNX nodes (evidence)]):',
    ...report.layers.map(
      (l) =>
        `  ${String(l.index).padStart(3)}  ${(l.type ?? '-').padEnd(typeWidth)}  ${l.precision.padEnd(7)}  ${l.name}${role[l.role]}${withNodes(l) ? ` → ${l.nodes.join(', ')} (${l.evidence})` : ''}`,
    ),
  ];
}

function listed(names: string[]): string {
  if (names.length === 0) return '';
  const more = names.length - SHOWN;
  return `: ${names.slice(0, SHOWN).join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}
