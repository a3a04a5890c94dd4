/**
 * What a device needs before a deploy touches it: a CPU the toolkit's binaries exist for, glibc and Node.js for
 * effnet-edge itself, and for TensorRT targets the headers, CMake and compilers the shim is built with there.
 * The facts come from one shell section each, batched into the deploy's first round trip; reading them and
 * deciding are pure functions, so every refusal text is pinned by tests on canned device outputs.
 */
import { posix } from 'node:path';
import type { TargetRuntime } from '../../targets/load.js';
import { UserError } from '../errors.js';
import { shellQuote } from './ssh.js';

/** The oldest versions that work, each with where the number comes from. */
export const REQUIRED = {
  /** effnet-edge's package.json `engines`. */
  node: '20',
  /** Official Node.js builds since 18 are linked against glibc 2.28. */
  glibc: '2.28',
  /** native/effnet_trt.cpp refuses older TensorRT with #error (and CMake's AUTO mode skips it). */
  tensorrt: '8.0',
  /** native/CMakeLists.txt: cmake_minimum_required (JetPack 4's CMake). */
  cmake: '3.10',
} as const;

/** Where TensorRT's Debian packages (JetPack, NVIDIA's x86 repository) and its tarball put NvInferVersion.h. */
export const TENSORRT_INCLUDE_DIRS = [
  '/usr/include/aarch64-linux-gnu',
  '/usr/include/x86_64-linux-gnu',
  '/usr/include',
  '/usr/local/TensorRT/include',
];

/** `uname -m` → the CPU names npm uses for platform packages (`--cpu`). */
const NPM_CPU: Readonly<Record<string, 'arm64' | 'x64'>> = {
  aarch64: 'arm64',
  arm64: 'arm64',
  x86_64: 'x64',
  amd64: 'x64',
};
/** `uname -m` → the `arch` of targets/*.json. */
const TARGET_ARCH: Readonly<Record<string, string>> = {
  aarch64: 'arm64',
  arm64: 'arm64',
  x86_64: 'x86_64',
  amd64: 'x86_64',
};

export type NpmCpu = 'arm64' | 'x64';

export function npmCpuOf(machine: string): NpmCpu | null {
  return NPM_CPU[machine] ?? null;
}

export interface TensorrtFound {
  /** The folder holding NvInferVersion.h. */
  dir: string;
  /** major.minor.patch, or null when the header names no numbers. */
  version: string | null;
  onnxParser: boolean;
}

export interface DeviceFacts {
  /** PRETTY_NAME of /etc/os-release. */
  os: string | null;
  /** Jetson Linux (L4T) release from /etc/nv_tegra_release, e.g. 'R35.4.1'. */
  l4t: string | null;
  /** `uname -m`. */
  machine: string | null;
  glibc: string | null;
  /** `node --version` without the v. */
  node: string | null;
  tensorrt: TensorrtFound | null;
  /** The folders searched for NvInferVersion.h, in order. */
  tensorrtSearched: string[];
  cmake: string | null;
  /** The first line of the C++ and C compilers' --version, or null when there is none. */
  cxx: string | null;
  cc: string | null;
}

/** One command per fact, in the order `deviceFactsFrom` reads them; each is a section of `SshSession.sections`. */
export function deviceFactsCommands(options: { tensorrtInclude: string | null }): string[] {
  const dirs = options.tensorrtInclude === null ? TENSORRT_INCLUDE_DIRS : [options.tensorrtInclude];
  const firstOf = (names: string[]) =>
    `for c in ${names.join(' ')}; do if command -v "$c" >/dev/null 2>&1; then "$c" --version 2>&1 | head -n 1; exit 0; fi; done; exit 1`;
  return [
    'cat /etc/os-release 2>/dev/null',
    'head -n 1 /etc/nv_tegra_release 2>/dev/null',
    'uname -m',
    'getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>&1 | head -n 1',
    'node --version 2>/dev/null',
    // The folder first, then whether the ONNX parser's header is beside it, then the header's #define lines.
    `printf '%s\\n' ${dirs.map(shellQuote).join(' ')}; for d in ${dirs.map(shellQuote).join(' ')}; do if [ -f "$d/NvInferVersion.h" ]; then ` +
      `printf 'found %s\\n' "$d"; [ -f "$d/NvOnnxParser.h" ] && echo onnxparser; grep -E '^[[:space:]]*#[[:space:]]*define[[:space:]]' "$d/NvInferVersion.h"; exit 0; fi; done; exit 1`,
    'cmake --version 2>/dev/null | head -n 1',
    firstOf(['g++', 'c++']),
    firstOf(['gcc', 'cc']),
  ];
}

/** How many sections `deviceFactsCommands` makes (callers slice their batch with it). */
export const DEVICE_FACTS_SECTIONS = deviceFactsCommands({ tensorrtInclude: null }).length;

/** PRETTY_NAME="Ubuntu 20.04.6 LTS" → Ubuntu 20.04.6 LTS. */
export function osFrom(text: string): string | null {
  const match = /^PRETTY_NAME=(.*)$/m.exec(text);
  if (!match) return null;
  const value = match[1]!.trim().replace(/^(["'])(.*)\1$/, '$2');
  return value || null;
}

/** `# R35 (release), REVISION: 4.1, GCID: …` → R35.4.1. */
export function l4tFrom(text: string): string | null {
  const match = /^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/.exec(text.trim());
  return match ? `R${match[1]}.${match[2]!.replace(/\.$/, '')}` : null;
}

/**
 * glibc's version from `getconf GNU_LIBC_VERSION` (`glibc 2.35`) or the first line of `ldd --version`
 * (`ldd (Ubuntu GLIBC 2.31-0ubuntu9.9) 2.31`, `ldd (GNU libc) 2.39`); null for musl and anything else.
 */
export function glibcFrom(text: string): string | null {
  const line = text.trim().split('\n')[0] ?? '';
  const getconf = /^glibc (\d+\.\d+)/.exec(line);
  if (getconf) return getconf[1]!;
  if (!/GLIBC|GNU libc/i.test(line)) return null;
  return /(\d+\.\d+)\s*$/.exec(line)?.[1] ?? null;
}

export function nodeFrom(text: string): string | null {
  return /^v(\d+\.\d+\.\d+)/.exec(text.trim())?.[1] ?? null;
}

/** `cmake version 3.16.3` → 3.16.3. */
export function cmakeFrom(text: string): string | null {
  return /^cmake version (\d+\.\d+(?:\.\d+)?)/.exec(text.trim())?.[1] ?? null;
}

/**
 * TensorRT's version from NvInferVersion.h's #define lines: 8.x and 10.0-10.10 define NV_TENSORRT_MAJOR as a
 * number, 10.11 and later (11.x too) as TRT_MAJOR_ENTERPRISE, defined as the number just above (likewise MINOR, PATCH).
 */
export function tensorrtVersionFrom(header: string): string | null {
  const defines = new Map<string, string>();
  for (const line of header.split('\n')) {
    const match = /^\s*#\s*define\s+(\w+)\s+([^\s/]+)/.exec(line);
    if (match && !defines.has(match[1]!)) defines.set(match[1]!, match[2]!);
  }
  const number = (name: string): string | null => {
    let value = defines.get(name);
    // A define naming another define: follow it a few steps, no further (a cycle must not hang us).
    for (let step = 0; value !== undefined && !/^\d+$/.test(value) && step < 4; step++) value = defines.get(value);
    return value !== undefined && /^\d+$/.test(value) ? String(Number(value)) : null;
  };
  const parts = ['MAJOR', 'MINOR', 'PATCH'].map((p) => number(`NV_TENSORRT_${p}`));
  return parts.every((p) => p !== null) ? parts.join('.') : null;
}

/** The tensorrt section: the folders searched, then `found DIR`, `onnxparser` and the #define lines. */
export function tensorrtFrom(text: string): { found: TensorrtFound | null; searched: string[] } {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('found '));
  const searched = (at < 0 ? lines : lines.slice(0, at)).filter((l) => l.startsWith('/'));
  if (at < 0) return { found: null, searched };
  const rest = lines.slice(at + 1);
  return {
    found: {
      dir: lines[at]!.slice('found '.length),
      version: tensorrtVersionFrom(rest.join('\n')),
      onnxParser: rest.includes('onnxparser'),
    },
    searched,
  };
}

/** The facts from the sections of `deviceFactsCommands`, in order. */
export function deviceFactsFrom(results: { code: number; stdout: string }[]): DeviceFacts {
  const [os, l4t, machine, glibc, node, tensorrt, cmake, cxx, cc] = results.map((r) => r.stdout);
  const line = (text: string | undefined) => text?.trim().split('\n')[0]?.trim() || null;
  const trt = tensorrtFrom(tensorrt ?? '');
  return {
    os: osFrom(os ?? ''),
    l4t: l4tFrom(l4t ?? ''),
    machine: line(machine),
    glibc: glibcFrom(glibc ?? ''),
    node: nodeFrom(node ?? ''),
    tensorrt: trt.found,
    tensorrtSearched: trt.searched,
    cmake: cmakeFrom(cmake ?? ''),
    cxx: results[7]?.code === 0 ? line(cxx) : null,
    cc: results[8]?.code === 0 ? line(cc) : null,
  };
}

/** a >= b for dotted version numbers ('10.3.0' >= '8.6'). */
export function versionAtLeast(found: string, needed: string): boolean {
  const a = found.split('.').map(Number);
  const b = needed.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** The README section for boards whose JetPack cannot run the device side. */
const TRTEXEC_HINT = 'build the engine there with the device\'s trtexec instead (README, section "Jetson Nano")';

export interface PrerequisiteOptions {
  facts: DeviceFacts;
  runtime: TargetRuntime;
  target: { name: string; arch: string | null; tensorrt: string[] | null };
  /** `node` must be on the device's PATH: always, unless --remote-cli names a command and --install is off. */
  nodeRequired: boolean;
}

/** One line per problem (what, found, needed, fix), and warnings that do not stop the deploy. */
export function prerequisiteProblems(options: PrerequisiteOptions): { problems: string[]; warnings: string[] } {
  const { facts, target } = options;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (facts.machine === null || npmCpuOf(facts.machine) === null) {
    problems.push(
      `CPU: found ${facts.machine ?? 'nothing (uname -m printed nothing)'}, needed aarch64 or x86_64 (the CPUs onnxruntime-node, sharp and koffi ship binaries for); effnet-edge's device side cannot run on this device`,
    );
  } else if (target.arch !== null && target.arch !== 'any' && TARGET_ARCH[facts.machine] !== target.arch) {
    warnings.push(
      `the ${target.name} target is for ${target.arch} CPUs and the device is ${facts.machine}: the accuracy check on the device decides whether the bundle holds there`,
    );
  }
  if (facts.glibc === null || !versionAtLeast(facts.glibc, REQUIRED.glibc)) {
    const details = [
      facts.glibc === null && 'neither getconf GNU_LIBC_VERSION nor ldd --version names glibc',
      facts.os,
      facts.l4t && `L4T ${facts.l4t}`,
    ]
      .filter(Boolean)
      .join('; ');
    problems.push(
      `glibc: found ${facts.glibc ?? 'none'}${details ? ` (${details})` : ''}, needed >= ${REQUIRED.glibc} (official Node.js 20 builds need it); ` +
        `move the device to an OS with glibc ${REQUIRED.glibc} or later (Ubuntu 20.04, Debian 10 or newer). JetPack 4 (Ubuntu 18.04, glibc 2.27; the Jetson Nano's last JetPack) cannot run effnet-edge's device side: ${TRTEXEC_HINT}`,
    );
  }
  if (options.nodeRequired && (facts.node === null || !versionAtLeast(facts.node, REQUIRED.node))) {
    problems.push(
      `Node.js: found ${facts.node === null ? 'none on the PATH of a non-interactive SSH shell' : `v${facts.node}`}, needed >= ${REQUIRED.node} (effnet-edge runs on the device); ` +
        'install Node.js 20 or later so that `node` is on that PATH, e.g. from NodeSource (https://github.com/nodesource/distributions), or pass --remote-cli with the full command that runs effnet-edge',
    );
  }
  if (options.runtime === 'tensorrt') {
    problems.push(...tensorrtProblems(facts));
    if (
      facts.tensorrt?.version &&
      target.tensorrt &&
      !target.tensorrt.includes(facts.tensorrt.version.split('.').slice(0, 2).join('.'))
    ) {
      warnings.push(
        `the device has TensorRT ${facts.tensorrt.version} and the ${target.name} target lists ${target.tensorrt.join(', ')}: the engine is built and checked on the device with ${facts.tensorrt.version} all the same`,
      );
    }
    if (facts.cmake === null || !versionAtLeast(facts.cmake, REQUIRED.cmake)) {
      problems.push(
        `CMake: found ${facts.cmake ?? 'none'}, needed >= ${REQUIRED.cmake} (native/CMakeLists.txt; the shim is compiled on the device); ` +
          "sudo apt-get install cmake (every JetPack's Ubuntu ships a new enough one: 18.04 has 3.10, 20.04 3.16, 22.04 3.22)",
      );
    }
    if (facts.cxx === null)
      problems.push(
        'C++ compiler: found neither g++ nor c++, needed for the TensorRT shim (C++17); sudo apt-get install g++',
      );
    if (facts.cc === null)
      problems.push(
        'C compiler: found neither gcc nor cc, needed for the native build (the int8 engine is C); sudo apt-get install gcc',
      );
  }
  return { problems, warnings };
}

function tensorrtProblems(facts: DeviceFacts): string[] {
  const found = facts.tensorrt;
  const install = 'sudo apt-get install libnvinfer-dev libnvonnxparsers-dev';
  if (found === null) {
    return [
      `TensorRT: found no NvInferVersion.h in ${facts.tensorrtSearched.join(', ')}, needed TensorRT >= ${REQUIRED.tensorrt} with its headers (the shim is compiled on the device); ` +
        `on JetPack 6: ${install}; elsewhere pass --tensorrt-include <TensorRT>/include (and --tensorrt-lib <TensorRT>/lib)`,
    ];
  }
  const header = posix.join(found.dir, 'NvInferVersion.h');
  const problems: string[] = [];
  if (found.version === null) {
    problems.push(
      `TensorRT: found ${header} without NV_TENSORRT_MAJOR/MINOR/PATCH numbers, needed TensorRT >= ${REQUIRED.tensorrt}; reinstall the TensorRT headers (${install})`,
    );
  } else if (!versionAtLeast(found.version, REQUIRED.tensorrt)) {
    problems.push(
      `TensorRT: found ${found.version} (${header}), needed >= ${REQUIRED.tensorrt} (the oldest the shim supports); ` +
        `upgrade JetPack (4.6 ships TensorRT 8.0), or ${TRTEXEC_HINT}`,
    );
  }
  if (!found.onnxParser)
    problems.push(
      `TensorRT ONNX parser: found no NvOnnxParser.h in ${found.dir}, needed beside NvInferVersion.h (the shim parses the bundle's ONNX); sudo apt-get install libnvonnxparsers-dev`,
    );
  return problems;
}

/** The refusal: a header line naming the host and the bundle's target, then one line per problem. */
export function prerequisitesError(options: { label: string; target: string; problems: string[] }): UserError {
  return new UserError(
    [
      `${options.label}: the device lacks what this ${options.target} bundle needs; nothing was uploaded or installed:`,
      ...options.problems.map((p) => `  - ${p}`),
    ].join('\n'),
  );
}

/** Where the TensorRT libraries sit for the headers found: /usr/include/<triplet> → /usr/lib/<triplet>, X/include → X/lib. */
export function tensorrtLibDirFor(includeDir: string): string | null {
  const dir = posix.normalize(includeDir).replace(/\/$/, '');
  const multiarch = /^\/usr\/include\/([\w-]+-linux-gnu)$/.exec(dir);
  if (multiarch) return `/usr/lib/${multiarch[1]}`;
  return dir.endsWith('/include') ? `${dir.slice(0, -'/include'.length)}/lib` : null;
}
