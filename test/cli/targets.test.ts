/** `targets` and `targets --json` say what the quantizer really writes for each target (npu-generic: per-channel). */
import t from 'tap';
import { runCli } from '../helpers/cli.js';

const NPU_DESCRIPTION =
  'Q/DQ ONNX for vendor NPU compilers (inputs-only placement; per-channel int8 weights; per-tensor weights are not written)';

t.test(
  'npu-generic: the text and the JSON both say per-channel weights, and that per-tensor is not written',
  async (t) => {
    const text = await runCli(['targets']);
    t.equal(text.code, 0);
    t.match(
      text.stdout,
      new RegExp(
        `\\nnpu-generic +vendor NPU compiler \\(Q/DQ ONNX\\) +- +0 +int8\\* +effnet-edge +${NPU_DESCRIPTION.replace(/[()]/g, '\\$&')}\\n`,
      ),
    );
    const json = JSON.parse((await runCli(['targets', '--json'])).stdout) as {
      targets: { name: string; description: string; calibration: { weightGranularity: string } }[];
    };
    const npu = json.targets.find((x) => x.name === 'npu-generic')!;
    t.equal(npu.description, NPU_DESCRIPTION);
    t.equal(npu.calibration.weightGranularity, 'per-channel');
    t.strictSame(new Set(json.targets.map((x) => x.calibration.weightGranularity)), new Set(['per-channel']));
  },
);
