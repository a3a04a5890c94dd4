/**
 * One line of NVIDIA's `tegrastats` read into power rails and the board's input power. The format differs by
 * JetPack: JetPack 4 prints `VDD_IN 3140/3208` or `POM_5V_IN 1057/1043` (milliwatts, no unit), JetPack 5 and 6 print
 * `VDD_IN 5299mW/5299mW` and start the line with `MM-DD-YYYY HH:MM:SS`; AGX Xavier and AGX Orin have no input rail
 * at all. Lines recorded on real boards, with their sources, are in test/fixtures/tegrastats/.
 */

export interface PowerRail {
  name: string;
  /** The reading when the line was printed. */
  instantMilliwatts: number;
  /** tegrastats' own running average since it started. */
  averageMilliwatts: number;
}

/** What the board's input power figure is. */
export type InputBasis = 'VDD_IN' | 'POM_5V_IN' | 'sum of module rails';

export interface BoardInput {
  basis: InputBasis;
  /** The rails the figure comes from: one, or every rail when they are summed. */
  rails: string[];
  instantMilliwatts: number;
  averageMilliwatts: number;
}

export interface TegrastatsSample {
  /** As printed (`06-16-2023 10:45:09`, JetPack 5 and later), else null. */
  timestamp: string | null;
  rails: PowerRail[];
  /** Null when the line has no power rails; `noPowerReason` says why. */
  input: BoardInput | null;
  noPowerReason: string | null;
}

export const NO_RAILS_REASON =
  'tegrastats printed no power rails (some images show them only to root: run bench with sudo, or add the user to the group that can read the INA3221 monitors)';

const TIMESTAMP = /^(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d) /;
// A rail: an upper-case name, then `a/b` or `amW/bmW` and nothing else (RAM 717/3964MB and the like end in a unit).
const RAIL = /(?:^|\s)([A-Z][A-Z0-9_]*) (\d+)(?:mW)?\/(\d+)(?:mW)?(?=\s|$)/g;
// AGX Orin's monitors print their unconnected channels as `NC 0mW/0mW`: not a rail.
const NOT_CONNECTED = 'NC';

/**
 * The board's input power. VDD_IN (TX2, Xavier NX, Orin NX/Nano) and POM_5V_IN (Nano) measure the module's input
 * before its regulators. AGX Xavier and AGX Orin have no such monitor: their INA3221 channels sit on the module's
 * supply rails (AGX Orin: VDD_GPU_SOC, VDD_CPU_CV, VIN_SYS_5V0 on one monitor, VDDQ_VDD2_1V8AO on the other; AGX
 * Xavier's design guide DG-09840-001 §5.6.2 names GPU, CPU, SOC, CV, VDDRQ and the system 5 V supply), so their sum
 * is the closest figure, which is what jetson-stats reports as the total since rbonghi/jetson_stats#344. It leaves
 * out the regulators' own losses, so it reads lower than a VDD_IN would: the basis says which one it is.
 */
function boardInput(rails: readonly PowerRail[]): BoardInput | null {
  if (rails.length === 0) return null;
  for (const basis of ['VDD_IN', 'POM_5V_IN'] as const) {
    const rail = rails.find((r) => r.name === basis);
    if (rail) return { basis, rails: [basis], ...milliwatts([rail]) };
  }
  return { basis: 'sum of module rails', rails: rails.map((r) => r.name), ...milliwatts(rails) };
}

function milliwatts(rails: readonly PowerRail[]): { instantMilliwatts: number; averageMilliwatts: number } {
  return {
    instantMilliwatts: rails.reduce((sum, r) => sum + r.instantMilliwatts, 0),
    averageMilliwatts: rails.reduce((sum, r) => sum + r.averageMilliwatts, 0),
  };
}

/** Reads one tegrastats line; pure. */
export function parseTegrastatsLine(line: string): TegrastatsSample {
  const text = line.trim();
  const timestamp = TIMESTAMP.exec(text)?.[1] ?? null;
  const rails: PowerRail[] = [];
  for (const match of text.matchAll(RAIL)) {
    const [, name, instant, average] = match;
    if (name === NOT_CONNECTED) continue;
    rails.push({ name: name!, instantMilliwatts: Number(instant), averageMilliwatts: Number(average) });
  }
  const input = boardInput(rails);
  return { timestamp, rails, input, noPowerReason: input ? null : NO_RAILS_REASON };
}
