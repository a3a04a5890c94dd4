import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NO_RAILS_REASON, parseTegrastatsLine, type TegrastatsSample } from '../../toolkit/device/tegrastats.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tegrastats');

/** The lines of a recorded fixture (test/fixtures/tegrastats/SOURCES.md says where each comes from). */
function recordedLines(file: string): string[] {
  return readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter(Boolean);
}

const rail = (name: string, instantMilliwatts: number, averageMilliwatts: number) => ({
  name,
  instantMilliwatts,
  averageMilliwatts,
});
const nanoRails = (inInstant: number, inAverage: number) => [
  rail('POM_5V_IN', inInstant, inAverage),
  rail('POM_5V_GPU', 0, 0),
  rail('POM_5V_CPU', 126, 126),
];
const nano = (inInstant: number, inAverage: number): TegrastatsSample => ({
  timestamp: null,
  rails: nanoRails(inInstant, inAverage),
  input: { basis: 'POM_5V_IN', rails: ['POM_5V_IN'], instantMilliwatts: inInstant, averageMilliwatts: inAverage },
  noPowerReason: null,
});
const xavierRails = [
  rail('GPU', 463, 463),
  rail('CPU', 618, 618),
  rail('SOC', 2936, 2936),
  rail('CV', 0, 0),
  rail('VDDRQ', 309, 309),
  rail('SYS5V', 3306, 3306),
];
const agxOrinRails = [
  rail('VDD_GPU_SOC', 2340, 2340),
  rail('VDD_CPU_CV', 390, 399),
  rail('VIN_SYS_5V0', 4019, 4026),
  rail('VDDQ_VDD2_1V8AO', 301, 308),
];
const noRails: TegrastatsSample = { timestamp: null, rails: [], input: null, noPowerReason: NO_RAILS_REASON };
const vddIn = (instantMilliwatts: number, averageMilliwatts: number) => ({
  basis: 'VDD_IN' as const,
  rails: ['VDD_IN'],
  instantMilliwatts,
  averageMilliwatts,
});

// Every line of every fixture, read by hand: milliwatts whether the line says mW (JetPack 5, 6) or not (JetPack 4).
const expected: Record<string, TegrastatsSample[]> = {
  'jetson-nano-jetpack4.txt': [nano(1057, 1057), nano(1015, 1036), nano(1057, 1043)],
  'jetson-tx2-jetpack4.txt': [
    {
      timestamp: null,
      rails: [
        rail('VDD_SYS_GPU', 153, 158),
        rail('VDD_SYS_SOC', 536, 547),
        rail('VDD_4V0_WIFI', 633, 527),
        rail('VDD_IN', 3140, 3208),
        rail('VDD_SYS_CPU', 536, 590),
        rail('VDD_SYS_DDR', 557, 601),
      ],
      input: vddIn(3140, 3208),
      noPowerReason: null,
    },
  ],
  'jetson-agx-xavier-jetpack4.txt': [
    {
      timestamp: null,
      rails: xavierRails,
      input: {
        basis: 'sum of module rails',
        rails: ['GPU', 'CPU', 'SOC', 'CV', 'VDDRQ', 'SYS5V'],
        instantMilliwatts: 7632,
        averageMilliwatts: 7632,
      },
      noPowerReason: null,
    },
  ],
  'jetson-orin-nx-16gb-jetpack5.txt': [
    {
      timestamp: '06-16-2023 10:45:09',
      rails: [rail('VDD_IN', 5299, 5299), rail('VDD_CPU_GPU_CV', 773, 773), rail('VDD_SOC', 1424, 1424)],
      input: vddIn(5299, 5299),
      noPowerReason: null,
    },
  ],
  'jetson-agx-orin-64gb.txt': [
    {
      timestamp: '04-10-2025 15:18:02',
      // The two `NC 0mW/0mW` channels are not rails.
      rails: agxOrinRails,
      input: {
        basis: 'sum of module rails',
        rails: ['VDD_GPU_SOC', 'VDD_CPU_CV', 'VIN_SYS_5V0', 'VDDQ_VDD2_1V8AO'],
        instantMilliwatts: 7050,
        averageMilliwatts: 7073,
      },
      noPowerReason: null,
    },
  ],
  'jetson-orin-8gb-jetpack6.txt': [
    {
      timestamp: '05-15-2025 18:30:28',
      rails: [rail('VDD_IN', 17946, 15710), rail('VDD_CPU_GPU_CV', 8896, 7585), rail('VDD_SOC', 3923, 3515)],
      input: vddIn(17946, 15710),
      noPowerReason: null,
    },
  ],
  'jetson-tx1-l4t28.txt': [noRails, noRails],
};

t.test('every recorded line of every fixture file reads as expected', async (t) => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));
  t.same(files.sort(), Object.keys(expected).sort(), 'each fixture file has its expected readings here');
  for (const file of files) t.same(recordedLines(file).map(parseTegrastatsLine), expected[file], file);
});

t.test('a line with a timestamp but no rails gives the reason, and stray spaces change nothing', async (t) => {
  t.same(parseTegrastatsLine('06-16-2023 10:45:09 RAM 6334/15388MB (lfb 1770x4MB) APE 174\n'), {
    ...noRails,
    timestamp: '06-16-2023 10:45:09',
  });
  t.equal(parseTegrastatsLine('  VDD_IN 5704mW/5704mW  ').input?.instantMilliwatts, 5704);
});
