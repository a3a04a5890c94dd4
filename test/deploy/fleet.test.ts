import t from 'tap';
import { forEachHost, maxFailFrom } from '../../toolkit/deploy/fleet.js';
import { hostTargetsFrom } from '../../toolkit/deploy/hosts.js';
import { flagMessageOf } from '../helpers/fieldErrors.js';

t.test('--max-fail as a count or a percentage of the hosts', async (t) => {
  t.equal(maxFailFrom(undefined, 10), Infinity);
  t.equal(maxFailFrom('0', 10), 0);
  t.equal(maxFailFrom('3', 10), 3);
  t.equal(maxFailFrom('25%', 10), 2, 'floor, as Ansible counts max_fail_percentage');
  t.equal(maxFailFrom('100%', 3), 3);
  const asFlag = (value: string) =>
    flagMessageOf(() => maxFailFrom(value, 3), { field: 'maxFail', flag: '--max-fail' });
  t.equal(await asFlag('many'), "--max-fail expects a count (N) or a percentage (P%), got 'many'");
  t.equal(await asFlag('120%'), '--max-fail 120%: a percentage must be 0..100%');
  t.throws(() => maxFailFrom('120%', 3), { field: 'maxFail', message: 'maxFail 120%: a percentage must be 0..100%' });
});

t.test('no host is started once more than max-fail failed; the rest are reported as not started', async (t) => {
  const targets = hostTargetsFrom('a,b,c,d,e');
  const started: string[] = [];
  const outcomes = await forEachHost({
    targets,
    concurrency: 1,
    maxFail: 1,
    work: async (target) => {
      started.push(target.host);
      if (target.host === 'a' || target.host === 'c') throw new Error(`${target.host} is down`);
      return target.host.toUpperCase();
    },
  });
  t.strictSame(started, ['a', 'b', 'c']);
  t.strictSame(
    outcomes.map((o) => [o.target.host, o.status, o.value, o.error]),
    [
      ['a', 'failed', null, 'a is down'],
      ['b', 'ok', 'B', null],
      ['c', 'failed', null, 'c is down'],
      ['d', 'not started', null, null],
      ['e', 'not started', null, null],
    ],
  );
});

t.test('concurrency: at most N hosts at once, results in host order', async (t) => {
  let running = 0;
  let peak = 0;
  const outcomes = await forEachHost({
    targets: hostTargetsFrom('a,b,c,d,e,f'),
    concurrency: 3,
    maxFail: Infinity,
    work: async (target) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, target.host === 'a' ? 30 : 5));
      running -= 1;
      return target.host;
    },
  });
  t.equal(peak, 3);
  t.strictSame(
    outcomes.map((o) => o.value),
    ['a', 'b', 'c', 'd', 'e', 'f'],
  );
});
