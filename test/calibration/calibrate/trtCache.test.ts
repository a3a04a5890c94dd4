import t from 'tap';
import { CACHE_ALGORITHM, trtCacheTextFrom } from '../../../calibration/calibrate/rangesFile.js';
import {
  deviceCalibrationCacheText,
  hexFromScale,
  scaleFromHex,
  textFromTrtCache,
  trtCacheFromText,
} from '../../../calibration/calibrate/trtCache.js';

t.test('scales are big-endian float32 hex of amax / 127', async (t) => {
  t.ok(Math.abs(scaleFromHex('3c010a14') - 0.0078759) < 1e-7, 'FACTS.md example: scale 0.0078759');
  t.ok(Math.abs(scaleFromHex('3c010a14') * 127 - 1.0002) < 1e-3, 'amax 1.0002');
  t.equal(hexFromScale(scaleFromHex('3c010a14')), '3c010a14');
  t.equal(hexFromScale(1.0002 / 127), '3c01089f');
  t.equal(hexFromScale(1), '3f800000');
});

t.test('write then read round-trips in order', async (t) => {
  const cache = {
    version: 8601,
    algorithm: 'EntropyCalibration2',
    scales: new Map([
      ['input', 2.64 / 127],
      ['stem_conv.silu', 0.05],
    ]),
  };
  const text = textFromTrtCache(cache);
  t.equal(
    text,
    `TRT-8601-EntropyCalibration2\ninput: ${hexFromScale(2.64 / 127)}\nstem_conv.silu: ${hexFromScale(0.05)}\n`,
  );
  const back = trtCacheFromText({ text, file: 'c' });
  t.equal(back.version, 8601);
  t.equal(back.algorithm, 'EntropyCalibration2');
  t.strictSame([...back.scales.keys()], ['input', 'stem_conv.silu']);
  t.equal(back.scales.get('stem_conv.silu'), Math.fround(0.05));
});

t.test('malformed caches name the line', async (t) => {
  t.throws(() => trtCacheFromText({ text: 'hello\n', file: 'calib.cache' }), {
    message: "calib.cache: line 1: expected a header like 'TRT-8601-EntropyCalibration2', got 'hello'",
  });
  t.throws(
    () => trtCacheFromText({ text: 'TRT-8601-MinMaxCalibration\na: 3f800000\nb: 3f8000\n', file: 'calib.cache' }),
    {
      message: "calib.cache: line 3: expected 'tensor_name: <8 hex digits>', got 'b: 3f8000'",
    },
  );
  t.throws(() => trtCacheFromText({ text: 'TRT-8601-MinMaxCalibration\na: ff800000\n', file: 'calib.cache' }), {
    message: "calib.cache: line 2: scale ff800000 of 'a' decodes to -Infinity; expected a finite non-negative float32",
  });
});

t.test("the device copy carries the device's TensorRT version and the shim calibrator's algorithm", async (t) => {
  const bundleCache = 'TRT-8602-EntropyCalibration2\ninput: 3c010a14\nconv.out: 3d000000\n';
  t.equal(
    deviceCalibrationCacheText({ text: bundleCache, file: 'calib.cache', header: 'TRT-100300-EntropyCalibration2' }),
    'TRT-100300-EntropyCalibration2\ninput: 3c010a14\nconv.out: 3d000000\n',
    'a 10.3 device reads a cache made for 8.6',
  );
  t.equal(
    deviceCalibrationCacheText({
      text: 'TRT-8502-MinMaxCalibration\ninput: 3c010a14\n',
      file: 'calib.cache',
      header: 'TRT-8502-EntropyCalibration2',
    }),
    'TRT-8502-EntropyCalibration2\ninput: 3c010a14\n',
    "an older bundle's MinMax header is retagged for the EntropyCalibrator2 that reads it",
  );
  t.throws(
    () =>
      deviceCalibrationCacheText({
        text: 'TRT-8602-EntropyCalibration2\n',
        file: 'b/calib.cache',
        header: 'TRT-8602-EntropyCalibration2',
      }),
    {
      message: 'b/calib.cache: has no tensor scales; rebuild the bundle with effnet-edge build',
    },
  );
});

t.test('bundle caches name the calibrator that reads them, whatever found the ranges', async (t) => {
  const text = trtCacheTextFrom({ ranges: new Map([['input', 1.0002]]), version: 8602 });
  t.equal(text, 'TRT-8602-EntropyCalibration2\ninput: 3c01089f\n');
  t.equal(CACHE_ALGORITHM, 'EntropyCalibration2');
});
