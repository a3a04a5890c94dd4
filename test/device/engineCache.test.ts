import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedPlanStatus, sidecarWritten, staleReason, type EngineKey } from '../../toolkit/device/engineCache.js';

const key: EngineKey = {
  onnxSha256: 'a'.repeat(64),
  calibrationSha256: 'b'.repeat(64),
  tensorrtVersion: '10.3.0',
  sm: '8.7',
  dlaCore: -1,
  precision: 'int8',
  quantization: 'explicit',
  toolkitVersion: '0.1.0',
};

t.test('a plan is reused only when every key field matches, and the reason names the field', async (t) => {
  t.equal(staleReason({ schema: 'effnet-edge/engine@1', key }, key), null);
  t.equal(
    staleReason({ schema: 'effnet-edge/engine@1', key: { ...key, tensorrtVersion: '8.6.2' } }, key),
    'TensorRT was upgraded or downgraded (tensorrtVersion: plan "8.6.2", now "10.3.0")',
  );
  t.equal(
    staleReason({ schema: 'effnet-edge/engine@1', key: { ...key, dlaCore: 0 } }, key),
    'the DLA core differs (dlaCore: plan 0, now -1)',
  );
  t.equal(
    staleReason({ schema: 'effnet-edge/engine@1', key: { ...key, sm: '7.2' } }, key),
    'the GPU is a different one (sm: plan "7.2", now "8.7")',
  );
  t.equal(
    staleReason({ schema: 'effnet-edge/engine@1', key: { ...key, onnxSha256: 'c' } }, key),
    `the ONNX model changed (onnxSha256: plan "c", now "${key.onnxSha256}")`,
  );
  t.equal(staleReason(null, key), 'its sidecar is missing or not an effnet-edge engine record');
  t.equal(
    staleReason({ schema: 'effnet-edge/engine@1', key: { ...key, quantization: 'implicit' } }, key),
    'the int8 quantization mode differs (Q/DQ graph or calibration cache) (quantization: plan "implicit", now "explicit")',
  );
  t.equal(staleReason({ schema: 'other', key }, key), 'its sidecar is missing or not an effnet-edge engine record');
});

t.test('cached plan status from the files on disk', async (t) => {
  const dir = t.testdir();
  const plan = join(dir, 'model.plan');
  t.strictSame(await cachedPlanStatus(plan, key), {
    usable: false,
    reason: 'no plan built yet',
    maxBatch: null,
    staticBatch: false,
  });
  writeFileSync(plan, 'serialized engine');
  t.strictSame(await cachedPlanStatus(plan, key), {
    usable: false,
    reason: 'its sidecar is missing or not an effnet-edge engine record',
    maxBatch: null,
    staticBatch: false,
  });
  const build = { graph: 'model.int8.onnx', quantMode: 'explicit-qdq', typing: 'weak', notes: [] };
  await sidecarWritten(plan, key, { maxBatch: 8, optBatch: 1, staticBatch: false, build, buildSeconds: 12.5, log: '' });
  t.strictSame(await cachedPlanStatus(plan, key), { usable: true, reason: null, maxBatch: 8, staticBatch: false });
  t.strictSame(await cachedPlanStatus(plan, { ...key, precision: 'fp16' }), {
    usable: false,
    reason: 'the precision differs (precision: plan "int8", now "fp16")',
    maxBatch: 8,
    staticBatch: false,
  });
  await sidecarWritten(
    plan,
    { ...key, dlaCore: 0 },
    { maxBatch: 4, optBatch: 4, staticBatch: true, build, buildSeconds: 30, log: '' },
  );
  t.strictSame(
    await cachedPlanStatus(plan, { ...key, dlaCore: 0 }),
    { usable: true, reason: null, maxBatch: 4, staticBatch: true },
    'a DLA plan records its static batch',
  );
  writeFileSync(`${plan}.json`, '{ truncated');
  t.equal((await cachedPlanStatus(plan, key)).usable, false, 'an unreadable sidecar means rebuild');
});
