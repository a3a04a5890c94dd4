import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { resizedDimensions, tensorFromImageFile } from '../../../calibration/images/decode.js';
import { roundHalfToEven as roundHalfEven } from '../../../toolkit/numbers.js';
import { datasetFromFolder } from '../../../calibration/images/dataset.js';
import { batchesFromDataset, type LoadSummary } from '../../../calibration/images/loader.js';
import { customPreprocessing, directPreset, torchvisionPreset } from '../../../calibration/images/presets.js';
import { FIXTURES } from '../../helpers/paths.js';

const sample = join(FIXTURES, 'imagenet_sample');
const meta = JSON.parse(readFileSync(join(sample, 'meta.json'), 'utf8')) as {
  images: { file: string; mode: string; tensors: { b0: string; b3: string } }[];
};

t.test('torchvision preset equals torchvision + PIL on the ImageNet sample', async (t) => {
  for (const variant of ['b0', 'b3'] as const) {
    let worstMean = 0;
    let worstMax = 0;
    for (const image of meta.images) {
      const bytes = readFileSync(join(sample, image.tensors[variant]));
      const reference = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const { tensor, width } = await tensorFromImageFile({
        path: join(sample, image.file),
        preprocessing: torchvisionPreset(variant),
      });
      t.equal(width, variant === 'b0' ? 224 : 300);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < reference.length; i++) {
        const d = Math.abs(reference[i]! - tensor[i]!);
        sum += d;
        max = Math.max(max, d);
      }
      worstMean = Math.max(worstMean, sum / reference.length);
      worstMax = Math.max(worstMax, max);
    }
    // Goal: mean ≤ 0.02 in normalised units. Pillow-exact resampling makes it exact up to float rounding.
    t.ok(worstMean < 1e-6, `${variant}: worst per-image mean |Δ| ${worstMean.toExponential(2)}`);
    t.ok(worstMax < 1e-5, `${variant}: worst per-image max |Δ| ${worstMax.toExponential(2)}`);
  }
});

t.test('geometry follows torchvision: int() on the long side, round-half-even crop offsets', async (t) => {
  t.strictSame(resizedDimensions(500, 368, 256), { width: 347, height: 256 });
  t.strictSame(resizedDimensions(300, 400, 320), { width: 320, height: 426 });
  t.equal(roundHalfEven(61.5), 62);
  t.equal(roundHalfEven(156.5), 156);
  t.equal(roundHalfEven(2.4), 2);
});

t.test('grayscale, alpha, 16-bit and CMYK images become 3-channel sRGB', async (t) => {
  const dir = t.testdir();
  const gray = join(dir, 'gray.png');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .toColourspace('b-w')
    .png()
    .toFile(gray);
  t.equal((await sharp(gray).metadata()).channels, 1, 'a one-channel PNG');
  const rgba = join(dir, 'rgba.png');
  await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } })
    .png()
    .toFile(rgba);
  const deep = join(dir, 'deep.png');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 0, g: 255, b: 0 } } })
    .toColourspace('rgb16')
    .png()
    .toFile(deep);
  const cmyk = join(dir, 'cmyk.jpg');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 0, g: 0, b: 255 } } })
    .toColourspace('cmyk')
    .jpeg()
    .toFile(cmyk);
  const unit = customPreprocessing(directPreset(), { mean: [0, 0, 0], std: [1, 1, 1] });
  const pixel = async (path: string) => {
    const { tensor } = await tensorFromImageFile({ path, preprocessing: unit, expectedSize: 8 });
    t.equal(tensor.length, 3 * 64, `${path}: 3 channels`);
    return [0, 64, 128].map((o) => Math.round(tensor[o]! * 255));
  };
  t.strictSame(await pixel(gray), [128, 128, 128]);
  t.strictSame(await pixel(rgba), [255, 0, 0], 'alpha dropped, not blended (as PIL convert(RGB))');
  t.strictSame(await pixel(deep), [0, 255, 0], '16-bit to 8-bit');
  const blue = await pixel(cmyk);
  // sRGB blue is outside the CMYK gamut, so it comes back darker, but blue.
  t.ok(blue[2]! > 2 * blue[0]! && blue[2]! > 2 * blue[1]!, `CMYK blue stays blue (${blue.join(',')})`);
});

t.test('corrupt files are skipped with a warning; too many fail the run', async (t) => {
  const good = readFileSync(join(FIXTURES, 'cifar10_b0', 'calib', 'airplane', '0023.jpg'));
  const files: Record<string, string | Buffer> = {};
  for (let i = 0; i < 19; i++) files[`ok${String(i).padStart(2, '0')}.jpg`] = good;
  files['zz-broken.jpg'] = good.subarray(0, 40);
  const dir = t.testdir({ images: files });
  const dataset = await datasetFromFolder({ root: join(dir, 'images') });
  const warnings: string[] = [];
  const summary: LoadSummary = { used: 0, skipped: [] };
  let images = 0;
  for await (const batch of batchesFromDataset(
    { dataset, preprocessing: directPreset(), inputSize: 32, batchSize: 8, onWarning: (m) => warnings.push(m) },
    summary,
  )) {
    images += batch.size;
    t.equal(batch.data.length, batch.size * 3 * 32 * 32);
  }
  t.equal(images, 19);
  t.equal(summary.skipped.length, 1);
  t.match(warnings[0], new RegExp(`^skipped ${join(dir, 'images', 'zz-broken.jpg')}: cannot be used as an image \\(`));
  const strict = batchesFromDataset({
    dataset,
    preprocessing: directPreset(),
    inputSize: 32,
    batchSize: 8,
    maxSkipShare: 0.01,
  });
  await t.rejects(
    (async () => {
      for await (const _ of strict) {
        /* drain */
      }
    })(),
    {
      message: new RegExp(`^${join(dir, 'images')}: 1 of 20 images could not be decoded \\(more than 1 %\\); first: `),
    },
  );
  const wrongSize = batchesFromDataset({ dataset, preprocessing: directPreset(), inputSize: 224, batchSize: 8 });
  await t.rejects(
    (async () => {
      for await (const _ of wrongSize) {
        /* drain */
      }
    })(),
    {
      message: `${join(dir, 'images', 'ok00.jpg')}: image is 32x32 but the model takes 224x224; use --preset torchvision or --resize/--crop`,
    },
  );
  writeFileSync(join(dir, 'unused'), '');
});
