import t from 'tap';
import { progressBar, stageProgress, type ProgressStream } from '../../toolkit/cli/progress.js';
import { countText, etaText, rateText } from '../../toolkit/cli/progressUnits.js';
import { BUILD_STAGES, DEPLOY_STAGES, QUANTIZE_STAGES, stagesFor } from '../../toolkit/cli/stages.js';

/** The renderer's input: a terminal that records what is written, and a clock the test moves. */
function terminal(options: { isTTY?: boolean; columns?: number } = {}) {
  const writes: string[] = [];
  let ms = 0;
  const stream: ProgressStream = { isTTY: options.isTTY ?? true, write: (text) => writes.push(text) };
  if (options.columns) Object.assign(stream, { columns: options.columns });
  return { stream, writes, now: () => ms, at: (next: number) => void (ms = next) };
}

const CLEAR = '\r\x1b[K';
const bar = (filled: number) => `[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}]`;

t.test('a stage line per stage, numbered from the table, with its duration left behind', async (t) => {
  const tty = terminal();
  const lines = stageProgress({
    stages: [
      { stage: 'calibrate', label: 'calibrating' },
      { stage: 'select', label: 'choosing the calibrator' },
      { stage: 'write', label: 'writing the files' },
    ],
    stream: tty.stream,
    now: tty.now,
  });
  lines.stage('calibrate');
  tty.at(2300);
  lines.stage('select');
  tty.at(23_700);
  lines.stage('write');
  tty.at(23_800);
  lines.done();
  t.strictSame(tty.writes, [
    `${CLEAR}[1/3] calibrating…`,
    `${CLEAR}[1/3] calibrating: 2.3s\n`,
    `${CLEAR}[2/3] choosing the calibrator…`,
    `${CLEAR}[2/3] choosing the calibrator: 21.4s\n`,
    `${CLEAR}[3/3] writing the files…`,
    `${CLEAR}[3/3] writing the files: 0.1s\n`,
  ]);
});

t.test('no rate or ETA before 1 s and 3 items since the first report; every redraw clears the line', async (t) => {
  const tty = terminal();
  const lines = stageProgress({ stages: [{ stage: 'search', label: 'searching' }], stream: tty.stream, now: tty.now });
  lines.stage('search');
  tty.at(500);
  lines.update(1, 114, 'tensor'); // the first report: no rate from one item in no time
  tty.at(700);
  lines.update(2, 114, 'tensor');
  tty.at(1600);
  lines.update(3, 114, 'tensor'); // 1.1 s after the first, but only 2 items since
  tty.at(1700);
  lines.update(24, 114, 'tensor'); // 23 items in 1.2 s
  tty.at(1750);
  lines.update(25, 114, 'tensor'); // within 100 ms of the last redraw: skipped
  tty.at(1760);
  lines.update(114, 114, 'tensor'); // the last item is always drawn, without a rate
  t.strictSame(tty.writes.slice(1), [
    `${CLEAR}[1/1] searching… ${bar(0)} 1/114 tensor`,
    `${CLEAR}[1/1] searching… ${bar(1)} 2/114 tensor`,
    `${CLEAR}[1/1] searching… ${bar(1)} 3/114 tensor`,
    `${CLEAR}[1/1] searching… ${bar(6)} 24/114 tensor 19 tensor/s ETA 5s`,
    `${CLEAR}[1/1] searching… ${bar(30)} 114/114 tensor`,
  ]);
  t.ok(
    tty.writes.every((w) => w.startsWith(CLEAR)),
    'a shorter redraw leaves nothing of a longer one',
  );
});

t.test('a warning is written above the live line, which is drawn again under it', async (t) => {
  const tty = terminal();
  const lines = stageProgress({
    stages: [{ stage: 'read', label: 'reading images' }],
    stream: tty.stream,
    now: tty.now,
  });
  lines.stage('read');
  lines.aside(() => tty.stream.write('effnet-edge build: warning: x.jpg: not an image; skipped\n'));
  lines.stop();
  t.strictSame(tty.writes, [
    `${CLEAR}[1/1] reading images…`,
    CLEAR,
    'effnet-edge build: warning: x.jpg: not an image; skipped\n',
    `${CLEAR}[1/1] reading images…`,
    CLEAR,
  ]);
});

t.test('a stage missing from the table is shown past the count, not dropped', async (t) => {
  const tty = terminal();
  const lines = stageProgress<string>({ stages: [{ stage: 'a', label: 'first' }], stream: tty.stream, now: tty.now });
  lines.stage('b');
  t.equal(tty.writes[0], `${CLEAR}[2/1] b…`);
});

t.test('the live line is cut to the terminal width so that it never wraps', async (t) => {
  const tty = terminal({ columns: 22 });
  const lines = stageProgress({ stages: [{ stage: 'a', label: 'calibrating' }], stream: tty.stream, now: tty.now });
  lines.stage('a');
  lines.update(1, 10, 'img');
  t.equal(tty.writes[1], `${CLEAR}[1/1] calibrating… [#`, '21 characters: one column short of the width');
});

t.test('uploads count MB and MB/s from 1 MB up, bytes below', async (t) => {
  const tty = terminal();
  const upload = progressBar({ label: 'uploading to jetson', unit: 'B', stream: tty.stream, now: tty.now });
  tty.at(1000);
  upload.update(13_746, 21_066_137);
  tty.at(3000);
  upload.update(8_413_746, 21_066_137);
  tty.at(3050);
  upload.update(21_066_137, 21_066_137);
  t.strictSame(tty.writes, [
    `${CLEAR}uploading to jetson ${bar(0)} 0.0/21.1 MB`,
    `${CLEAR}uploading to jetson ${bar(12)} 8.4/21.1 MB 4.2 MB/s ETA 4s`,
    CLEAR,
  ]);
  t.equal(countText({ done: 13_746, total: 500_000, unit: 'B' }), '13746/500000 B');
  t.equal(rateText({ rate: 13_755, unit: 'B' }), '13755 B/s');
  t.equal(rateText({ rate: 2.46, unit: 'img' }), '2.5 img/s');
  t.strictSame([0.2, 7, 59.5, 1531, 7500].map(etaText), ['1s', '7s', '1m 00s', '25m 31s', '2h 05m']);
});

t.test('nothing at all on a pipe, or when the command was asked for --json or --quiet', async (t) => {
  const pipe = terminal({ isTTY: false });
  const lines = stageProgress({ stages: [{ stage: 'a', label: 'a' }], stream: pipe.stream, now: pipe.now });
  lines.stage('a');
  lines.update(5, 10, 'img');
  let warned = false;
  lines.aside(() => (warned = true));
  lines.done();
  progressBar({ label: 'x', unit: 'img', stream: pipe.stream }).update(1, 2);
  const tty = terminal();
  stageProgress({ stages: [], stream: tty.stream, enabled: false }).stage('a');
  progressBar({ label: 'x', unit: 'img', stream: tty.stream, enabled: false }).update(1, 2);
  t.strictSame([...pipe.writes, ...tty.writes], []);
  t.ok(warned, 'warnings are still written');
});

t.test("the stage tables count only the stages a run's options have", async (t) => {
  const labels = (rows: { label: string }[]) => rows.map((r) => r.label);
  t.strictSame(labels(stagesFor(BUILD_STAGES, { precision: 'int8', auto: true, biasCorrection: {} })), [
    'reading images',
    'calibrating',
    'choosing the calibrator',
    'searching activation ranges',
    'correcting biases',
    'evaluating on the held-out images',
    'recording the golden set and device thresholds',
    'writing the bundle',
  ]);
  t.equal(stagesFor(BUILD_STAGES, { precision: 'int8', auto: true, searchCount: 0 }).length, 6);
  t.equal(stagesFor(BUILD_STAGES, { precision: 'int8', auto: false, biasCorrection: { count: 8 } }).length, 6);
  t.equal(stagesFor(BUILD_STAGES, { precision: 'int8', auto: false }).length, 5);
  t.equal(stagesFor(BUILD_STAGES, { precision: 'fp16', auto: true, biasCorrection: {} }).length, 4);
  t.strictSame(labels(stagesFor(QUANTIZE_STAGES, { auto: false })), ['calibrating', 'writing the files']);
  const all = {
    auto: true,
    biasCorrection: { count: 64 },
    maxDrop: { points: 0.5, eval: { root: 'val', items: [], labelSource: 'folders' as const } },
  };
  t.equal(stagesFor(QUANTIZE_STAGES, all).length, 7);
  t.strictSame(labels(stagesFor(DEPLOY_STAGES, { install: false, runtime: 'onnxruntime' })), [
    'connecting',
    'checking the device',
    "finding the device's effnet-edge",
    'uploading the bundle',
    'verifying on the device',
    'switching to the release',
  ]);
  const jetson = stagesFor(DEPLOY_STAGES, { install: true, runtime: 'tensorrt' });
  t.strictSame(labels(jetson).slice(2, 5), [
    'installing effnet-edge',
    'uploading the bundle',
    'building the TensorRT engine',
  ]);
});
