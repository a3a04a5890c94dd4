/**
 * The engine's default thread count from /proc/stat, on recorded snapshots: a quiet 2-core machine, the same with one
 * busy process, with two, and a 4-core machine half busy.
 */
import t from 'tap';
import { FileFormatError } from '../../../toolkit/errors.js';
import {
  busyCoresBetween,
  cpuTimesFrom,
  engineThreadsForLoad,
  threadsForLoad,
  int8ThreadsForThisMachine,
} from '../../../toolkit/runtime/int8/threads.js';

/** /proc/stat of a 2-CPU machine as Linux writes it (the intr line shortened). */
const STAT_BEFORE = `cpu  2415902 0 444881 2195430 4981 0 11783 0 0 0
cpu0 1204438 0 216626 1108687 1005 0 5951 0 0 0
cpu1 1211464 0 228255 1086742 3976 0 5831 0 0 0
intr 20054310 0 0 0 0
ctxt 50637113
`;
/** 3 s later (600 ticks on 2 CPUs at 100 Hz), with `busy` of them busy: user time added, the rest idle. */
function statAfter(busy: number): string {
  return STAT_BEFORE.replace('2415902 0 444881 2195430', `${2415902 + busy} 0 444881 ${2195430 + 600 - busy}`).replace(
    'cpu0 1204438',
    'cpu0 1204439',
  );
}

t.test(
  'cpuTimesFrom reads the all-CPU line: idle and iowait are idle, the rest busy; cpuN lines count CPUs',
  async (tt) => {
    tt.same(cpuTimesFrom(STAT_BEFORE), {
      busy: 2415902 + 444881 + 11783,
      total: 2415902 + 444881 + 2195430 + 4981 + 11783,
      cpus: 2,
    });
    tt.throws(
      () => cpuTimesFrom('intr 1 2\n'),
      new FileFormatError(
        '/proc/stat',
        `expected a 'cpu' line of tick counts, found none in text starting "intr 1 2\\n"`,
      ),
    );
  },
);

t.test('two snapshots → busy cores → threads: the free cores, rounded, at least one', async (tt) => {
  const before = cpuTimesFrom(STAT_BEFORE);
  const cases: [number, number, number][] = [
    [0, 0, 2], // quiet: both cores
    [300, 1, 1], // one core busy
    [600, 2, 1], // both busy: still one thread
    [60, 0.2, 2], // a little background noise does not cost a thread
  ];
  for (const [busyTicks, busyCores, threads] of cases) {
    const busy = busyCoresBetween({ before, after: cpuTimesFrom(statAfter(busyTicks)) });
    tt.equal(Number(busy.toFixed(6)), busyCores, `${busyTicks} of 600 ticks busy → ${busyCores} cores`);
    tt.equal(threadsForLoad({ cores: 2, busyCores: busy }), threads, `→ ${threads} thread(s)`);
  }
  tt.equal(busyCoresBetween({ before, after: before }), 0, 'no time passed: nothing busy');
  tt.equal(threadsForLoad({ cores: 4, busyCores: 2 }), 2, '4 cores, 2 busy → 2');
  tt.equal(threadsForLoad({ cores: 4, busyCores: 1.6 }), 2, '4 cores, 1.6 busy → 2');
  tt.equal(threadsForLoad({ cores: 4, busyCores: 1.4 }), 3, '4 cores, 1.4 busy → 3');
  tt.equal(threadsForLoad({ cores: 4, busyCores: -0.1 }), 4, 'never more than the cores');
});

t.test('at most one core free: every core for whole rounds of a batch, one image on one thread', async (tt) => {
  tt.same(engineThreadsForLoad({ cores: 2, busyCores: 0.1 }), { threads: 2, splitImage: true }, 'quiet');
  tt.same(engineThreadsForLoad({ cores: 2, busyCores: 1 }), { threads: 2, splitImage: false }, 'one core busy');
  tt.same(engineThreadsForLoad({ cores: 2, busyCores: 2 }), { threads: 2, splitImage: false }, 'both busy');
  tt.same(engineThreadsForLoad({ cores: 4, busyCores: 2 }), { threads: 2, splitImage: true }, 'two of four free');
  tt.same(engineThreadsForLoad({ cores: 4, busyCores: 3.9 }), { threads: 4, splitImage: false }, 'none of four free');
  tt.same(engineThreadsForLoad({ cores: 1, busyCores: 1 }), { threads: 1, splitImage: true }, 'one core');
});

t.test('on this machine: between 1 and the cores, with the load it saw', async (tt) => {
  const choice = await int8ThreadsForThisMachine({ sampleMs: 20 });
  tt.ok(choice.threads >= 1 && choice.threads <= choice.cores, `${choice.threads} of ${choice.cores}`);
  tt.ok(choice.busyCores === null || choice.busyCores >= 0, `busy ${choice.busyCores}`);
});
