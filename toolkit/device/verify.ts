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

export async function verifiedBundle(options: {
  bundle: string;
  manifest: BundleManifest;
  runtime: RuntimeChoice;
  dlaCore?: number;
  onNotice: (message: string) => void;
}): Promise<VerifyOutcome> {
  const { bundle, manifest } = options;
  const files = await bundleFileChecks(bundle, manifest);
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
    const checks = regressionChecks({ manifest, golden, device, files, runtime: runner.runtime });
    return { runtime: runner.runtime, checks, passed: checks.every((c) => c.ok) };
  } catch (error) {
    // A model that will not load or run is the regression to report, in the same TAP, beside the file check that
    // usually explains it (a device check must always answer, never just crash).
    const checks = regressionChecks({
      manifest,
      golden,
      device: null,
      files,
      runtime: runner?.runtime ?? options.runtime,
    });
    checks.splice(1, 0, {
      name: "the golden set runs on the device's runtime",
      ok: false,
      measured: (error as Error).message.split('\n')[0]!,
      allowed: 'logits for every golden input',
    });
    return { runtime: runner?.runtime ?? options.runtime, checks, passed: false };
  } finally {
    await runner?.close();
  }
}
