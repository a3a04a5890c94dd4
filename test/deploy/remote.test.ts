import t from 'tap';
import { releaseLogFrom, releasesToPrune, remoteLayout, type ReleaseLogEntry } from '../../toolkit/deploy/remote.js';
import { tapFrom, testPointsFromTap } from '../../toolkit/eval/checkReports.js';

const entry = (event: ReleaseLogEntry['event'], release: string): ReleaseLogEntry => ({
  event,
  release,
  previous: null,
  time: '',
  target: 'cpu-x86_64',
  toolkitVersion: '0.1.0',
});

t.test('the layout under the remote root', async (t) => {
  t.strictSame(remoteLayout('/home/u/.effnet-edge'), {
    root: '/home/u/.effnet-edge',
    releases: '/home/u/.effnet-edge/releases',
    current: '/home/u/.effnet-edge/current',
    log: '/home/u/.effnet-edge/releases.log',
    toolkit: '/home/u/.effnet-edge/toolkit',
  });
});

t.test('the release log skips a line cut short by a dropped connection', async (t) => {
  const text = `${JSON.stringify(entry('deployed', 'a'))}\n{"event":"depl\n${JSON.stringify(entry('failed', 'b'))}\n`;
  t.strictSame(
    releaseLogFrom(text).map((e) => [e.event, e.release]),
    [
      ['deployed', 'a'],
      ['failed', 'b'],
    ],
  );
});

t.test('pruning keeps the current release and the most recent ones that passed', async (t) => {
  const log = [
    entry('deployed', 'r1'),
    entry('deployed', 'r2'),
    entry('failed', 'r3'),
    entry('deployed', 'r4'),
    entry('deployed', 'r5'),
  ];
  const folders = ['r1', 'r2', 'r3', 'r4', 'r5'];
  t.strictSame(releasesToPrune({ folders, log, current: 'r5', keep: 3 }), ['r1', 'r3']);
  t.strictSame(releasesToPrune({ folders, log, current: 'r5', keep: 1 }), ['r1', 'r2', 'r3', 'r4']);
  // After a rollback to r2, r2 is kept first even though it is not the latest deploy.
  t.strictSame(releasesToPrune({ folders, log: [...log, entry('rolled-back', 'r2')], current: 'r2', keep: 2 }), [
    'r1',
    'r3',
    'r4',
  ]);
  t.strictSame(
    releasesToPrune({ folders: ['r5', 'stray'], log, current: 'r5', keep: 3 }),
    ['stray'],
    'folders the log never named go too',
  );
});

t.test('TAP from the device back into test points with their diagnostics', async (t) => {
  const tap = tapFrom({
    suite: 's',
    comment: ['device jetson'],
    checks: [
      {
        name: 'top-1 agreement with build-time int8',
        ok: true,
        measured: 100,
        allowed: '>= 93.75 %',
        details: { images: 32, flipped: [] },
      },
      { name: 'a # tricky \\ name', ok: false, measured: 'x: y', allowed: '<= 0.5' },
      {
        name: 'top-1 accuracy on the labelled golden inputs',
        ok: true,
        measured: null,
        allowed: 'n/a',
        skip: 'the golden set has no labels',
      },
    ],
  });
  t.strictSame(testPointsFromTap(tap), [
    {
      ok: true,
      name: 'top-1 agreement with build-time int8',
      skip: null,
      diag: { measured: 100, allowed: '>= 93.75 %', images: 32, flipped: [] },
    },
    { ok: false, name: 'a # tricky \\ name', skip: null, diag: { measured: 'x: y', allowed: '<= 0.5' } },
    {
      ok: true,
      name: 'top-1 accuracy on the labelled golden inputs',
      skip: 'the golden set has no labels',
      diag: { measured: null, allowed: 'n/a' },
    },
  ]);
});
