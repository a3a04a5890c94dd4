/** Staged rollouts, planned and run: canaries, then batches; the first failed batch stops the rest. */
import t from 'tap';
import { batchSizeFrom, rolloutStages, stagedRollout } from '../../toolkit/deploy/rollout.js';
import { hostTargetsFrom } from '../../toolkit/deploy/hosts.js';
import { flagMessageOf } from '../helpers/fieldErrors.js';

t.test('--batch as a count or a percentage of all hosts, rounded up as Ansible rounds serial', async (t) => {
  t.equal(batchSizeFrom('3', 10), 3);
  t.equal(batchSizeFrom('10%', 25), 3);
  t.equal(batchSizeFrom('1%', 10), 1, 'at least one host');
  t.equal(batchSizeFrom('100%', 7), 7);
  const asFlag = (value: string) => flagMessageOf(() => batchSizeFrom(value, 4), { field: 'batch', flag: '--batch' });
  t.equal(await asFlag('0'), "--batch expects a count (N ≥ 1) or a percentage (P%), got '0'");
  t.equal(await asFlag('half'), "--batch expects a count (N ≥ 1) or a percentage (P%), got 'half'");
  t.equal(await asFlag('0%'), '--batch 0%: a percentage must be above 0 and at most 100%');
});

t.test('stages: canaries first, then batches of the rest; one stage without either', async (t) => {
  t.strictSame(rolloutStages({ hosts: 4 }), [[0, 1, 2, 3]]);
  t.strictSame(rolloutStages({ hosts: 5, canary: 1 }), [[0], [1, 2, 3, 4]]);
  t.strictSame(rolloutStages({ hosts: 7, canary: 2, batch: '2' }), [[0, 1], [2, 3], [4, 5], [6]]);
  t.strictSame(rolloutStages({ hosts: 10, batch: '30%' }), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
  t.strictSame(rolloutStages({ hosts: 2, canary: 5 }), [[0, 1]]);
  t.strictSame(rolloutStages({ hosts: 0, canary: 1 }), []);
});

t.test('the first failed batch stops the rollout; --max-fail counts within a batch', async (t) => {
  const targets = hostTargetsFrom('a,b,c,d,e,f');
  const started: string[] = [];
  const work = async (target: { host: string }) => {
    started.push(target.host);
    if (target.host === 'c') throw new Error('c failed verify');
    return target.host;
  };
  const stages = rolloutStages({ hosts: 6, canary: 1, batch: '2' });
  const stopped = await stagedRollout({ targets, stages, concurrency: 2, maxFail: undefined, work });
  t.strictSame(started, ['a', 'b', 'c']);
  t.equal(stopped.stoppedAt, 2);
  t.strictSame(stopped.stageOf, [1, 2, 2, 3, 3, 4]);
  t.strictSame(
    stopped.outcomes.map((o) => o.status),
    ['ok', 'ok', 'failed', 'not started', 'not started', 'not started'],
  );
  started.length = 0;
  const tolerant = await stagedRollout({ targets, stages, concurrency: 1, maxFail: '50%', work });
  t.equal(tolerant.stoppedAt, null, 'one failure of a batch of two is within 50 %');
  t.strictSame(started, ['a', 'b', 'c', 'd', 'e', 'f']);
});
