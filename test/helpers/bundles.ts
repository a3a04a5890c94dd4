/** Small CPU bundles of the embedded demo for tests that deploy or attack them (about 10 s each here). */
import { runCli } from './cli.js';

/** Builds one bundle per [folder, golden count]; different golden counts give different manifests, so different releases. */
export async function demoBundlesBuilt(bundles: readonly (readonly [string, string])[]): Promise<void> {
  for (const [out, golden] of bundles) {
    const built = await runCli([
      'build',
      '--out',
      out,
      '--search-count',
      '0',
      '--calib-count',
      '20',
      '--golden',
      golden,
      '--quiet',
    ]);
    if (built.code !== 0) throw new Error(built.stderr);
  }
}
