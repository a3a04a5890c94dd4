import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { networkConfigFrom } from '../../toolkit/model/config.js';
import { summaryFromConfig } from '../../toolkit/model/summary.js';
import { VARIANT_NAMES } from '../../toolkit/model/variants.js';
import { REFERENCE } from '../helpers/paths.js';

interface Reference {
  resolution: number;
  params: number;
  mbconv_blocks: number;
  stem_channels: number;
  top_channels: number;
  stage_params: Record<string, number>;
  macs: number;
  macs_split: { conv_std: number; conv_dw: number; se_fc: number; linear: number };
  seed_formula_flops: number;
  stage_macs: Record<string, number>;
  stage_seed_formula_flops: Record<string, number>;
}
const reference = JSON.parse(readFileSync(join(REFERENCE, 'params.json'), 'utf8')) as Record<string, Reference>;

for (const variant of VARIANT_NAMES) {
  t.test(`${variant} equals the seed's reference numbers`, async (t) => {
    const ref = reference[variant]!;
    const summary = summaryFromConfig(networkConfigFrom({ variant }));
    t.equal(summary.resolution, ref.resolution, 'resolution');
    t.equal(summary.params, ref.params, 'params');
    t.equal(summary.macs, ref.macs, 'MACs');
    t.equal(summary.seedFormulaFlops, ref.seed_formula_flops, 'seed-formula FLOPs');
    t.equal(summary.mbconvBlocks, ref.mbconv_blocks, 'MBConv blocks');
    t.equal(summary.stemChannels, ref.stem_channels, 'stem channels');
    t.equal(summary.topChannels, ref.top_channels, 'top channels');
    t.same(
      summary.macsSplit,
      {
        convStd: ref.macs_split.conv_std,
        convDw: ref.macs_split.conv_dw,
        seFc: ref.macs_split.se_fc,
        linear: ref.macs_split.linear,
      },
      'MACs by layer kind',
    );
    const byKey = (pick: 'params' | 'macs' | 'seedFormulaFlops') =>
      Object.fromEntries(summary.stages.map((s) => [s.key, s[pick]]));
    t.strictSame(byKey('params'), ref.stage_params, 'params per stage');
    t.strictSame(byKey('macs'), ref.stage_macs, 'MACs per stage');
    t.strictSame(byKey('seedFormulaFlops'), ref.stage_seed_formula_flops, 'seed-formula FLOPs per stage');
    t.strictSame(
      summary.stages.map((s) => s.name),
      ['stem', 'mbconv1', 'mbconv2', 'mbconv3', 'mbconv4', 'mbconv5', 'mbconv6', 'mbconv7', 'top_conv', 'fc'],
    );
  });
}
