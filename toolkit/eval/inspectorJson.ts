/**
 * The engine inspector's JSON (what `IEngineInspector::getEngineInformation(kJSON)` returns and `trtexec
 * --exportLayerInfo` writes) read into plain layers. Two forms exist: with `kLAYER_NAMES_ONLY` verbosity `Layers` is a
 * list of names; with `kDETAILED` it is a list of objects with `Name`, `LayerType`, `Inputs`/`Outputs` (tensor `Name`
 * and `Format/Datatype`), `Origin`, `TacticName` and, from TensorRT 8.6, `Metadata`. Anything else in the file is
 * ignored, and a field of an unexpected type reads as absent: a valid file this reader does not fully understand
 * still gives its layers.
 *
 * An engine built with several optimisation profiles lists each layer once per profile, the copies named with a
 * ` [profile N]` suffix; like trex, only the first profile (the names without a suffix) is kept.
 */
import { FileFormatError, UserError } from '../errors.js';

export interface InspectorTensor {
  name: string;
  /** `Format/Datatype`, e.g. "Row major linear FP32" or "Half"; null when absent. */
  format: string | null;
}

export interface InspectorLayer {
  /** Position among the first profile's layers. */
  index: number;
  name: string;
  /** `LayerType` (CaskConvolution, Reformat, NoOp, Myelin…); null in the names-only form. */
  type: string | null;
  /** `Origin` (QDQ, REFORMAT…); null when absent. */
  origin: string | null;
  tactic: string | null;
  /** `Metadata` as written (TensorRT ≥ 8.6): `[ONNX Layer: a]` records joined by \x1F and \x1E. */
  metadata: string | null;
  inputs: InspectorTensor[];
  outputs: InspectorTensor[];
}

export interface InspectorJson {
  form: 'detailed' | 'names';
  layers: InspectorLayer[];
  bindings: string[];
  /** Layers of the second and later optimisation profiles, left out. */
  otherProfileLayers: number;
}

export interface InspectorJsonFromOptions {
  json: string;
  /** The file the JSON came from: errors then name it and say how to export one. */
  file?: string;
}

const OTHER_PROFILE = /\[profile +\d+\]/;

export function inspectorJsonFrom(options: InspectorJsonFromOptions): InspectorJson {
  const { file } = options;
  let parsed: unknown;
  try {
    parsed = JSON.parse(options.json);
  } catch {
    throw file === undefined
      ? new UserError(
          'the engine inspector did not return JSON; was the engine built with profiling verbosity layer-names or detailed?',
        )
      : new FileFormatError(
          file,
          'is not JSON; give the file that trtexec --exportLayerInfo or the engine inspector wrote',
        );
  }
  const entries = isRecord(parsed) ? parsed.Layers : undefined;
  if (!Array.isArray(entries)) {
    throw file === undefined
      ? new UserError('the engine inspector JSON has no Layers list; rebuild the engine with --verbosity detailed')
      : new FileFormatError(
          file,
          'has no Layers list; export it with trtexec --exportLayerInfo=FILE --profilingVerbosity=detailed',
        );
  }
  const all = entries.map(layerFrom);
  const layers = all.filter((l) => !OTHER_PROFILE.test(l.name)).map((l, index) => ({ ...l, index }));
  const bindings =
    isRecord(parsed) && Array.isArray(parsed.Bindings)
      ? parsed.Bindings.filter((b): b is string => typeof b === 'string')
      : [];
  return {
    form: entries.some(isRecord) ? 'detailed' : 'names',
    layers,
    bindings: bindings.filter((b) => !OTHER_PROFILE.test(b)),
    otherProfileLayers: all.length - layers.length,
  };
}

/** Engine layer names from inspector JSON (names-only or detailed), first profile only. */
export function engineLayerNames(json: string): string[] {
  return inspectorJsonFrom({ json }).layers.map((l) => l.name);
}

function layerFrom(entry: unknown): InspectorLayer {
  if (!isRecord(entry)) {
    return {
      index: 0,
      name: typeof entry === 'string' ? entry : '',
      type: null,
      origin: null,
      tactic: null,
      metadata: null,
      inputs: [],
      outputs: [],
    };
  }
  return {
    index: 0,
    name: stringOrNull(entry.Name) ?? '',
    type: stringOrNull(entry.LayerType),
    origin: stringOrNull(entry.Origin),
    tactic: stringOrNull(entry.TacticName),
    metadata: stringOrNull(entry.Metadata),
    inputs: tensorsFrom(entry.Inputs),
    outputs: tensorsFrom(entry.Outputs),
  };
}

function tensorsFrom(value: unknown): InspectorTensor[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter(isRecord)
    .map((t) => ({ name: stringOrNull(t.Name) ?? '', format: stringOrNull(t['Format/Datatype']) }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
