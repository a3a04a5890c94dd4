import t from 'tap';
import { stageTimer } from '../../bench/stageTimer.js';

t.test('stage times come from progress reports, the gaps between them named, first units estimated', async (t) => {
  let clock = 0;
  let rss = 100;
  const timer = stageTimer({
    gaps: { 'start→calibrating': 'setup', 'calibrating→evaluating': 'Q/DQ' },
    now: () => clock,
    peakRssMiB: () => (rss += 10),
  });
  // Setup until 1000 ms; calibration's 4 images at 500 ms each, reported after each one; 300 ms of Q/DQ.
  for (const done of [1, 2, 3, 4]) {
    clock = 1000 + done * 500;
    timer.onProgress('calibrating', done, 4);
  }
  clock = 3300 + 100;
  timer.onProgress('evaluating', 1, 2);
  clock = 3500;
  timer.onProgress('evaluating', 2, 2);
  clock = 3750;
  timer.mark('writing');
  t.strictSame(timer.seconds(), { setup: 1, calibrating: 2, 'Q/DQ': 0.3, evaluating: 0.2, writing: 0.25 });
  // The peak as each stage's last report came: 4 calibrating reports, 2 evaluating, 1 mark.
  t.strictSame(timer.peakRssMiB(), { calibrating: 140, evaluating: 160, writing: 170 });
});
