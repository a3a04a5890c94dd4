/**
 * What an engine layer's name and Metadata say about the ONNX nodes it ran. Pure string work; the graph is not
 * consulted here (layerNodes.ts resolves these against a model).
 *
 * TensorRT names a fused layer after the layers it absorbed, which the ONNX parser names after nodes (a node without
 * a name becomes `node_of_<first output>`) and weights (constant layers take the initializer's name): `a + b + c`,
 * pointwise fusions `PWN(a, PWN(b, c))`, and Myelin regions `{ForeignNode[first...last]}`, a range in graph order
 * whose ends may be weight names. From TensorRT 8.6 `Metadata` lists the nodes exactly: `[ONNX Layer: a]` records
 * joined by \x1F within a fusion group and by \x1E between sub-groups; TensorRT 10's Myelin layers (`__myl_…`) carry
 * node names only there.
 */

export interface NameTokens {
  /** Names of nodes or weights (unverified: only a graph tells which). */
  names: string[];
  /** `{ForeignNode[first...last]}` ranges. */
  ranges: { first: string; last: string }[];
}

/** `Reformatting CopyNode for Input Tensor 0 to <layer>`: a copy that repeats another layer's name. */
export function isCopyLayerName(name: string): boolean {
  return name.startsWith('Reformatting CopyNode for ');
}

/** Layer names the ONNX parser or the builder made up: they never name an ONNX node. */
export function isParserMadeName(name: string): boolean {
  return /^(\(Unnamed Layer\* \d+\)|copied_squeeze_after_|unsqueeze_node_after_|(un)?squeeze_after_|(reshape|transpose|shuffle)_(before|after)_)/.test(
    name,
  );
}

/** Names that QuantizeLinear/DequantizeLinear nodes get from exporters (torch, tf2onnx, this toolkit). */
export function looksLikeQdqName(name: string): boolean {
  return /(^|[/_.])(Quantize|Dequantize)Linear(_\d+)?$|^(Quant|Dequant)LinearNode__\d+$|\.(de)?quantize$/.test(name);
}

export function nameTokensOf(name: string): NameTokens {
  const tokens: NameTokens = { names: [], ranges: [] };
  if (isCopyLayerName(name)) return tokens;
  for (const part of splitTopLevel(name, ' + ')) collect(part.trim(), tokens);
  return tokens;
}

function collect(part: string, tokens: NameTokens): void {
  if (part === '') return;
  const foreign = /^\{ForeignNode\[(.*)\]\}$/s.exec(part);
  if (foreign) {
    const body = foreign[1]!;
    const dots = body.indexOf('...');
    if (dots < 0) tokens.names.push(body);
    else tokens.ranges.push({ first: body.slice(0, dots), last: body.slice(dots + 3) });
    return;
  }
  if (part.startsWith('PWN(') && part.endsWith(')')) {
    for (const arg of splitTopLevel(part.slice(4, -1), ', '))
      for (const inner of splitTopLevel(arg, ' + ')) collect(inner.trim(), tokens);
    return;
  }
  tokens.names.push(part);
}

/** Splits `a, PWN(b, c), d` at the separators outside parentheses (everywhere when they do not balance). */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
      i = start - 1;
    }
  }
  parts.push(text.slice(start));
  return depth === 0 ? parts : text.split(separator);
}

/**
 * Node names in a Metadata string. Each record is `[ONNX Layer: <node name>]`, possibly with ` | <property>` items
 * after the name (TensorRT 10 adds ` | Local Function: f`); records of other shapes are skipped.
 */
export function metadataNodesOf(metadata: string): string[] {
  const nodes: string[] = [];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: TensorRT separates Metadata records with RS and US
  for (const record of metadata.split(/[\x1E\x1F]/)) {
    const match = /^\s*\[ONNX Layer: (.*?)(?: \| [^\]]*)?\]\s*$/s.exec(record);
    if (match && match[1] !== '') nodes.push(match[1]!);
  }
  return nodes;
}
