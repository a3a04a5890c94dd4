/**
 * `npm run docs:screenshots`: builds a bundle of the shared CIFAR-10 fixture with the CLI (jetson-orin-nano, 256
 * calibration images, the 2000 test images: about a minute and a half on two cores) and writes the top of its
 * report.html, as headless Chromium shows it, to docs/report.png for the README. Needs the fixture in ../shared
 * (or $EFFNET_EDGE_SHARED) and Debian's `chromium`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { chromiumPath, screenshotOf } from './chromium.js';

const run = promisify(execFile);
const REPO = process.cwd();
const FIXTURE = join(process.env.EFFNET_EDGE_SHARED ?? join(REPO, '..', 'shared'), 'fixtures', 'cifar10_b0');
const OUTPUT = join(REPO, 'docs', 'report.png');
/** The README shows it at this width; the PNG stays well under 150 KB. */
const WIDTH = 860;
const MAX_BYTES = 150 * 1024;

async function main(): Promise<void> {
  const chromium = chromiumPath();
  if (!chromium) throw new Error('no chromium on PATH: apt-get install chromium (or set $CHROMIUM)');
  const dir = await mkdtemp(join(tmpdir(), 'effnet-edge-docs-'));
  try {
    const bundle = join(dir, 'bundle');
    const args = ['build', '--target', 'jetson-orin-nano', '--model', join(FIXTURE, 'model.onnx')];
    args.push('--calib', join(FIXTURE, 'calib'), '--calib-count', '256', '--eval', join(FIXTURE, 'test'));
    await run(process.execPath, [join(REPO, 'bin', 'effnet-edge.js'), ...args, '--out', bundle, '--quiet'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const png = join(dir, 'report.png');
    // The accuracy table, the device thresholds and the first rows of flipped images.
    await screenshotOf({ chromium, html: join(bundle, 'report.html'), png, width: 1100, height: 1100 });
    await sharp(png).resize({ width: WIDTH }).png({ palette: true, colours: 64, compressionLevel: 9 }).toFile(OUTPUT);
    const { size } = await stat(OUTPUT);
    if (size > MAX_BYTES) throw new Error(`${OUTPUT} is ${size} bytes, over ${MAX_BYTES}: lower WIDTH or the height`);
    process.stdout.write(`wrote ${OUTPUT} (${size} bytes)\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
