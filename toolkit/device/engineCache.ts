/**
 * Engine cache keys. A TensorRT plan only runs on the GPU, TensorRT version and DLA core it was built for, and only
 * means what the bundle says if its ONNX, calibration, precision and toolkit match too. The key is recorded in a
 * sidecar JSON next to the plan; a plan whose sidecar is missing, unreadable or different is never loaded: it is
 * rebuilt, and the reason is said.
 */
import { access, readFile, writeFile, rename } from 'node:fs/promises';
import { UserError } from '../errors.js';

export const SIDECAR_SCHEMA = 'effnet-edge/engine@1';

export interface EngineKey {
  onnxSha256: string;
  calibrationSha256: string | null;
  tensorrtVersion: string;
  sm: string;
  /** -1 for the GPU. */
  dlaCore: number;
  precision: 'int8' | 'fp16' | 'fp32';
  /** int8 from the Q/DQ graph or from the calibration cache; null for float engines. */
  quantization: 'explicit' | 'implicit' | null;
  toolkitVersion: string;
}

const KEY_LABELS: Record<keyof EngineKey, string> = {
  onnxSha256: 'the ONNX model changed',
  calibrationSha256: 'the calibration cache changed',
  tensorrtVersion: 'TensorRT was upgraded or downgraded',
  sm: 'the GPU is a different one',
  dlaCore: 'the DLA core differs',
  precision: 'the precision differs',
  quantization: 'the int8 quantization mode differs (Q/DQ graph or calibration cache)',
  toolkitVersion: 'effnet-edge was updated',
};

/** Why a cached plan cannot be used for `wanted`, or null when it can. */
export function staleReason(recorded: unknown, wanted: EngineKey): string | null {
  if (
    typeof recorded !== 'object' ||
    recorded === null ||
    (recorded as { schema?: unknown }).schema !== SIDECAR_SCHEMA
  ) {
    return 'its sidecar is missing or not an effnet-edge engine record';
  }
  const key = (recorded as { key?: Partial<EngineKey> }).key ?? {};
  for (const field of Object.keys(KEY_LABELS) as (keyof EngineKey)[]) {
    if (key[field] !== wanted[field]) {
      return `${KEY_LABELS[field]} (${field}: plan ${JSON.stringify(key[field] ?? null)}, now ${JSON.stringify(wanted[field])})`;
    }
  }
  return null;
}

export function sidecarPath(planPath: string): string {
  return `${planPath}.json`;
}

export interface CachedPlan {
  usable: boolean;
  reason: string | null;
  /** The largest batch the plan's optimisation profile takes, as its sidecar records (null when unknown). */
  maxBatch: number | null;
  /** The plan takes exactly `maxBatch` images (DLA). */
  staticBatch: boolean;
}

/** Reads the plan's sidecar and says whether the plan may be loaded (`reason` null) or must be rebuilt. */
export async function cachedPlanStatus(planPath: string, wanted: EngineKey): Promise<CachedPlan> {
  // Plans are tens of megabytes: look for the file, do not read it.
  const planExists = await access(planPath).then(
    () => true,
    () => false,
  );
  if (!planExists) return { usable: false, reason: 'no plan built yet', maxBatch: null, staticBatch: false };
  const text = await readFile(sidecarPath(planPath), 'utf8').catch(() => null);
  let recorded: unknown = null;
  try {
    recorded = text === null ? null : JSON.parse(text);
  } catch {
    recorded = null;
  }
  const reason = staleReason(recorded, wanted);
  const { maxBatch, staticBatch } = (recorded ?? {}) as { maxBatch?: unknown; staticBatch?: unknown };
  return {
    usable: reason === null,
    reason,
    maxBatch: Number.isInteger(maxBatch) ? (maxBatch as number) : null,
    staticBatch: staticBatch === true,
  };
}

/** Written after the plan itself, so a sidecar never vouches for a plan that was not completely written. */
export interface SidecarExtra {
  maxBatch: number;
  optBatch: number;
  staticBatch: boolean;
  /** How it was built (graph, explicit/implicit, typing) and what the builder should know. */
  build: { graph: string; quantMode: string; typing: string; notes: string[] };
  buildSeconds: number;
  log: string;
}

export async function sidecarWritten(planPath: string, key: EngineKey, extra: SidecarExtra): Promise<void> {
  const path = sidecarPath(planPath);
  const temporary = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temporary, `${JSON.stringify({ schema: SIDECAR_SCHEMA, key, ...extra }, null, 2)}\n`);
    await rename(temporary, path);
  } catch (error) {
    throw new UserError(`${path}: cannot write the engine record (${(error as Error).message})`);
  }
}
