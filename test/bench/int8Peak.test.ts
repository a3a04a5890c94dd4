import t from 'tap';
import { int8PeakFrom } from '../../bench/int8Peak.js';

const cpuinfo = (vendor: string, family: number, mhz: number) =>
  `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: 17\ncpu MHz\t\t: ${mhz}\n`;

t.test('Zen 5 issues two full 512-bit vpdpbusd a cycle: 128 MACs', async (t) => {
  const peak = int8PeakFrom({ isa: 'avx512', cpuinfo: cpuinfo('AuthenticAMD', 26, 2100) });
  t.same([peak.macsPerCycle, peak.gops], [128, 537.6]);
  t.equal(peak.basis, '128 int8 MACs/cycle (avx512) at 2100 MHz');
});

t.test('Zen 4 splits 512-bit ops into 256-bit halves: 64 MACs, named in the basis', async (t) => {
  const peak = int8PeakFrom({ isa: 'avx512', cpuinfo: cpuinfo('AuthenticAMD', 25, 2596.134) });
  t.equal(peak.macsPerCycle, 64);
  t.equal(peak.gops.toFixed(1), '332.3');
  t.equal(peak.basis, 'AMD family 25 runs 512-bit vpdpbusd as two 256-bit halves: 64 int8 MACs/cycle at 2596.134 MHz');
});

t.test('Intel AVX-512 and the narrower paths', async (t) => {
  const intel = cpuinfo('GenuineIntel', 6, 2000);
  t.equal(int8PeakFrom({ isa: 'avx512', cpuinfo: intel }).macsPerCycle, 128);
  t.equal(int8PeakFrom({ isa: 'avx2', cpuinfo: cpuinfo('AuthenticAMD', 25, 2000) }).macsPerCycle, 32);
  t.equal(int8PeakFrom({ isa: 'neon', cpuinfo: 'processor\t: 0\nBogoMIPS\t: 50.00\n' }).gops, 0);
});
