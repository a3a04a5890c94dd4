/** Runs a bundle's golden set on this machine's runtime and checks it against what the build recorded. */
import type { BundleManifest } from '../bundle/manifest.js';
import { bundleFileChecks } from '../bundle/manifest.js';
import { bundleRunner, type RuntimeChoice } from './bundleRunner.js';
import type { Runner } from '../runtime/runner.js';
import type { CheckResult } from '../eval/checkReports.js';
import { goldenSetFrom, regressionChecks } from './regression.js';

export interface VerifyOutcome {
  runtime: string;
  checks: CheckResult[];
  passed: boolean;
}

/**
 * JUnit times for the work the checks share: the file check took the hashing; the first check that reads the
 * model's output takes loading and running the golden set (the others read the same logits: their own time only).
 */
function withWorkTimes(options: { checks: CheckResult[]; hashedMs: number; ranMs: number }): CheckResult[] {
  const [files, first, ...rest] = options.checks;
  if (!files) return options.checks;
  const timedFiles = { ...files, durationMs: options.hashedMs };
  if (!first) return [timedFiles];
  return [timedFiles, { ...first, durationMs: (first.durationMs ?? 0) + options.ranMs }, ...rest];
}

export async function verifiedBundle(options: {
  bundle: string;
  manifest: BundleManifest;
  runtime: RuntimeChoice;
  dlaCore?: number;
  onNotice: (message: string) => void;
}): Promise<VerifyOutcome> {
  const { bundle, manifest } = options;
  const hashing = performance.now();
  const files = await bundleFileChecks(bundle, manifest);
  const hashedMs = performance.now() - hashing;
  const running = performance.now();
  const golden = await goldenSetFrom({ bundle, manifest });
  let runner: Runner | null = null;
  try {
    runner = await bundleRunner({
      bundle,
      manifest,
      model: 'int8',
      runtime: options.runtime,
      onNotice: options.onNotice,
      ...(options.dlaCore === undefined ? {} : { dlaCore: options.dlaCore }),
    });
    const output = await runner.run(golden.inputs, golden.index.inputShape);
    const device = { data: output[runner.outputNames[0]!]!, classes: golden.index.classes };
    const checks = withWorkTimes({
      checks: regressionChecks({ manifest, golden, device, files, runtime: runner.runtime }),
      hashedMs,
      ranMs: performance.now() - running,
    });
    return { runtime: runner.runtime, checks, passed: checks.every((c) => c.ok) };
  } catch (error) {
    // A model that will not load or run is the regression to report, in the same TAP, beside the file check that
    // usually explains it (a device check must always answer, never just crash).
    const checks = withWorkTimes({
      checks: regressionChecks({ manifest, golden, device: null, files, runtime: runner?.runtime ?? options.runtime }),
      hashedMs,
      ranMs: 0,
    });
    checks.splice(1, 0, {
      name: "the golden set runs on the device's runtime",
      ok: false,
      measured: (error as Error).message.split('\n')[0]!,
      allowed: 'logits for every golden input',
      durationMs: performance.now() - running,
    });
    return { runtime: runner?.runtime ?? options.runtime, checks, passed: false };
  } finally {
    await runner?.close();
  }
}
