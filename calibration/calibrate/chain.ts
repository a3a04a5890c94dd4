/**
 * A graph as a chain of links for calibration when one image's exposed activations exceed the budget (B7 at 600×600
 * with every activation calibrated for the cache: about 4.5 GB an image). Each link runs from a narrow point of the
 * graph (where one value alone carries everything later nodes read) to a later one, and exposes only the tensors it
 * computes, within the budget; an image runs through the links in turn, each feeding the next its output. Every node
 * runs once per image, where calibrating in tensor groups runs the whole graph once per group (five times at B7).
 * Pure: reads the graph and its shapes.
 */
import { elementCount, narrowPoints, type GraphPiece } from '../../toolkit/onnx/graph.js';
import type { Model, ValueInfo } from '../../toolkit/onnx/ir.js';

export interface ChainLink extends GraphPiece {
  /** Its input's shape after the batch dimension. */
  inputDims: number[];
  /** The tensors to calibrate that this link computes (its output among them when it is one). */
  tensors: string[];
  /** Their float32 bytes for one image. */
  bytes: number;
}

/** A tensor's float32 bytes for one image (batch dimension dropped); undefined when its shape is not static. */
export function imageBytesOf(shapes: ReadonlyMap<string, ValueInfo>, tensor: string): number | undefined {
  const shape = shapes.get(tensor)?.shape;
  const count = shape ? elementCount(shape.slice(1)) : undefined;
  return count === undefined ? undefined : 4 * count;
}

/**
 * The links, each exposing at most `maxBytes` an image, that cover every tensor in `tensors` (the graph input's
 * among them is calibrated from the image itself); null when one piece between two narrow points is over the budget
 * or a tensor's shape is unknown, so calibrating in groups is what remains.
 */
export function chainWithin(options: {
  model: Model;
  shapes: ReadonlyMap<string, ValueInfo>;
  tensors: readonly string[];
  maxBytes: number;
  /** One image's shape (the first link's input). */
  imageDims: readonly number[];
}): ChainLink[] | null {
  const { model } = options;
  const { nodes } = model.graph;
  const wanted = new Set(options.tensors);
  const bytesOf = (tensor: string) => imageBytesOf(options.shapes, tensor) ?? Number.NaN;
  const links: ChainLink[] = [];
  const empty = (input: string): ChainLink => ({ input, inputDims: [], output: '', nodes: [], tensors: [], bytes: 0 });
  let open = empty(model.graph.inputs[0]!.name);
  let piece = empty(open.input);
  const close = (output: string) => {
    if (!(piece.bytes <= options.maxBytes)) return false;
    if (open.nodes.length > 0 && open.bytes + piece.bytes > options.maxBytes) {
      links.push(open);
      open = empty(open.output);
    }
    open = { ...open, output, nodes: [...open.nodes, ...piece.nodes], tensors: [...open.tensors, ...piece.tensors] };
    open.bytes += piece.bytes;
    piece = empty(output);
    return true;
  };
  const points = narrowPoints(model);
  for (const [i, node] of nodes.entries()) {
    piece.nodes.push(node);
    for (const tensor of node.outputs.filter((t) => wanted.has(t))) {
      piece.tensors.push(tensor);
      piece.bytes += bytesOf(tensor);
    }
    const narrow = points.get(i);
    if (narrow !== undefined && i < nodes.length - 1 && !close(narrow)) return null;
  }
  if (!close(model.graph.outputs[0]!.name)) return null;
  links.push(open);
  // Each link after the first runs on its predecessor's output: that needs a static shape.
  links[0]!.inputDims = [...options.imageDims];
  for (const link of links.slice(1)) {
    const dims = options.shapes.get(link.input)?.shape?.slice(1);
    if (!dims?.every((d) => typeof d === 'number' && d > 0)) return null;
    link.inputDims = dims as number[];
  }
  return links;
}
