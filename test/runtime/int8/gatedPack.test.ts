/**
 * The AVX-512 gated pack (the SE gate applied to a projection's input as one product per value, the graph's own float
 * operations only where the quotient lies near a half) equals gated_value(), the engine's integer semantics, on 25.6
 * million random and adversarial values: native/int8/test/gated_check.c, compiled here with the library around it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { int8IsaSupported, int8UnavailableReason } from '../../../toolkit/runtime/int8/native.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const unavailable = int8UnavailableReason();
const reason = unavailable
  ? `the int8 engine is not built: ${unavailable}`
  : int8IsaSupported('avx512')
    ? null
    : 'this CPU has no AVX-512 (F, BW, VL, VNNI, VBMI): the AVX-512 gated pack cannot run here';

t.test(
  'the AVX-512 gated pack equals gated_value() on random and near-half values',
  { skip: reason ?? false },
  async (tt) => {
    const source = join(REPO_ROOT, 'native', 'int8');
    const binary = join(mkdtempSync(join(tmpdir(), 'effnet-gated-')), 'gated_check');
    // The check includes kernels_avx512.c itself (its functions are static), so that file is left out of the rest.
    const sources = readdirSync(source)
      .filter((f) => f.endsWith('.c') && f !== 'kernels_avx512.c')
      .map((f) => join(source, f));
    execFileSync('cc', [
      ...['-std=c11', '-O2', '-pthread', '-ffp-contract=off', '-o', binary],
      ...[join(source, 'test', 'gated_check.c'), ...sources, '-lm'],
    ]);
    const run = spawnSync(binary, ['200000'], { encoding: 'utf8' });
    tt.equal(run.status, 0, run.stderr);
    const [, mismatches, values, near] = /^(\d+) mismatches of (\d+), (\d+) near a half$/.exec(run.stdout.trim()) ?? [];
    tt.equal(Number(mismatches), 0, 'no value differs');
    tt.equal(Number(values), 25_600_000, 'every value compared');
    tt.ok(Number(near) > 1_000_000, `${near} values within 2^-11 of a half, where the pack divides`);
  },
);
