/** status's words for checks and verifies: pass/fail with what was checked, never a bare number. */
import t from 'tap';
import { checkInWords, verifyInWords } from '../../toolkit/cli/statusText.js';

t.test('checks at deploy in words', async (t) => {
  const pass = (check: string, measured: number | string | null) => checkInWords({ check, result: 'pass', measured });
  t.strictSame(
    [
      pass("bundle files match the manifest's sha256", 0),
      pass("bundle files match the manifest's sha256", 1),
      pass('top-1 agreement with build-time fp32', 93.75),
      pass('mean logit cosine with build-time fp32', 0.9987),
      pass('top-1 accuracy on the labelled golden inputs', null),
    ],
    [
      "pass: bundle files match the manifest's sha256 (0 files differ)",
      "pass: bundle files match the manifest's sha256 (1 file differs)",
      'pass: top-1 agreement with build-time fp32 (measured 93.75 %)',
      'pass: mean logit cosine with build-time fp32 (measured 0.9987)',
      'pass: top-1 accuracy on the labelled golden inputs (nothing measured)',
    ],
  );
});

t.test('the last verify in words: who ran it, on what, and which checks failed', async (t) => {
  const base = { time: '2026-12-04T08:00:00.000Z', release: 'b0-b', runtime: 'tensorrt', reason: null };
  const uncounted = { result: 'fail' as const, passed: null, failed: null, failing: [] };
  t.equal(verifyInWords(null), 'never');
  t.equal(
    verifyInWords({
      ...base,
      by: 'verify',
      result: 'fail',
      passed: 5,
      failed: 1,
      failing: ['top-1 agreement with build-time fp32'],
    }),
    'fail at 2026-12-04T08:00:00.000Z (verify --host of b0-b on tensorrt, 5 of 6 checks passed: failed top-1 agreement with build-time fp32)',
  );
  t.equal(
    // A deploy whose verify failed logs no counts, only why.
    verifyInWords({ ...base, ...uncounted, by: 'deploy', runtime: null, reason: 'on-device verify failed: x' }),
    'fail at 2026-12-04T08:00:00.000Z (deploy of b0-b: on-device verify failed: x)',
  );
});
