/**
 * The device prerequisites a deploy checks in its first probe, from canned outputs of real boards' commands
 * (JetPack 4, 5 and 6, Debian, Alpine) through the parsers to the exact refusal text.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { targetNamed } from '../../targets/load.js';
import { freeSpaceProblem, nativeBuildCommand } from '../../toolkit/deploy/deploy.js';
import {
  cmakeFrom,
  DEVICE_FACTS_SECTIONS,
  deviceFactsCommands,
  deviceFactsFrom,
  glibcFrom,
  l4tFrom,
  nodeFrom,
  osFrom,
  prerequisiteProblems,
  prerequisitesError,
  REQUIRED,
  TENSORRT_INCLUDE_DIRS,
  tensorrtLibDirFor,
  tensorrtVersionFrom,
  versionAtLeast,
  type DeviceFacts,
} from '../../toolkit/deploy/prerequisites.js';
import { REPO_ROOT } from '../helpers/paths.js';

// NvInferVersion.h excerpts, the #define lines only (the 8.x and 10.0-10.10 form, then the 10.11+/11.x form).
const TRT_8_5 = [
  '#define NV_TENSORRT_MAJOR 8 //!< TensorRT major version.',
  '#define NV_TENSORRT_MINOR 5 //!< TensorRT minor version.',
  '#define NV_TENSORRT_PATCH 2 //!< TensorRT patch version.',
  '#define NV_TENSORRT_BUILD 2 //!< TensorRT build number.',
].join('\n');
const TRT_10_3 = TRT_8_5.replace('MAJOR 8', 'MAJOR 10').replace('MINOR 5', 'MINOR 3').replace('PATCH 2', 'PATCH 0');
const TRT_10_16 = [
  '#define TRT_MAJOR_ENTERPRISE 10',
  '#define TRT_MINOR_ENTERPRISE 16',
  '#define TRT_PATCH_ENTERPRISE 1',
  '#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< TensorRT major version.',
  '#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE //!< TensorRT minor version.',
  '#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE //!< TensorRT patch version.',
].join('\n');

const SEARCHED = TENSORRT_INCLUDE_DIRS.join('\n');
const ok = (stdout: string) => ({ code: 0, stdout: `${stdout}\n` });
const none = { code: 1, stdout: '' };
const trtSection = (header: string, parser = true) =>
  ok(`${SEARCHED}\nfound /usr/include/aarch64-linux-gnu\n${parser ? 'onnxparser\n' : ''}${header}`);

/** The sections' outputs in deviceFactsCommands' order. */
function board(parts: {
  os: string;
  l4t: string;
  machine: string;
  glibc: string;
  node: { code: number; stdout: string };
  tensorrt: { code: number; stdout: string };
  cmake: string;
  cxx: { code: number; stdout: string };
  cc: { code: number; stdout: string };
}): DeviceFacts {
  return deviceFactsFrom([
    ok(parts.os),
    parts.l4t ? ok(parts.l4t) : none,
    ok(parts.machine),
    ok(parts.glibc),
    parts.node,
    parts.tensorrt,
    ok(parts.cmake),
    parts.cxx,
    parts.cc,
  ]);
}

const nano = board({
  os: 'NAME="Ubuntu"\nVERSION="18.04.6 LTS (Bionic Beaver)"\nID=ubuntu\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\nVERSION_ID="18.04"',
  l4t: '# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022',
  machine: 'aarch64',
  glibc: 'ldd (Ubuntu GLIBC 2.27-3ubuntu1.6) 2.27',
  node: none,
  tensorrt: trtSection(TRT_8_5.replace('MINOR 5', 'MINOR 2').replace('PATCH 2', 'PATCH 1')),
  cmake: 'cmake version 3.10.2',
  cxx: ok('g++ (Ubuntu/Linaro 7.5.0-3ubuntu1~18.04) 7.5.0'),
  cc: ok('gcc (Ubuntu/Linaro 7.5.0-3ubuntu1~18.04) 7.5.0'),
});
const xavier = board({
  os: 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"',
  l4t: '# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023',
  machine: 'aarch64',
  glibc: 'ldd (Ubuntu GLIBC 2.31-0ubuntu9.9) 2.31',
  node: ok('v20.11.1'),
  tensorrt: trtSection(TRT_8_5),
  cmake: 'cmake version 3.16.3',
  cxx: ok('g++ (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0'),
  cc: ok('gcc (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0'),
});
const orin = (header: string, parser = true) =>
  board({
    os: 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"',
    l4t: '# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 23:24:25 UTC 2024',
    machine: 'aarch64',
    glibc: 'glibc 2.35',
    node: ok('v22.3.0'),
    tensorrt: trtSection(header, parser),
    cmake: 'cmake version 3.22.1',
    cxx: ok('c++ (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0'),
    cc: ok('cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0'),
  });
const debian = board({
  os: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"',
  l4t: '',
  machine: 'x86_64',
  glibc: 'ldd (Debian GLIBC 2.36-9+deb12u4) 2.36',
  node: ok('v20.20.2'),
  tensorrt: { code: 1, stdout: `${SEARCHED}\n` },
  cmake: '',
  cxx: none,
  cc: none,
});

const target = (name: string) => {
  const found = targetNamed(name);
  return { name: found.name, arch: found.arch, tensorrt: found.tensorrt };
};
const HOST = 'ubuntu@jetson';

t.test('each fact from a real command output', async (t) => {
  t.equal(glibcFrom('ldd (Ubuntu GLIBC 2.27-3ubuntu1.6) 2.27'), '2.27');
  t.equal(
    glibcFrom('ldd (Ubuntu GLIBC 2.31-0ubuntu9.9) 2.31\nCopyright (C) 2020 Free Software Foundation, Inc.'),
    '2.31',
  );
  t.equal(glibcFrom('ldd (Debian GLIBC 2.36-9+deb12u4) 2.36'), '2.36');
  t.equal(glibcFrom('glibc 2.35'), '2.35');
  t.equal(glibcFrom('ldd (GNU libc) 2.39'), '2.39');
  t.equal(glibcFrom('musl libc (x86_64)\nVersion 1.2.4'), null, 'musl is not glibc');
  t.equal(glibcFrom(''), null);
  t.equal(cmakeFrom('cmake version 3.10.2'), '3.10.2');
  t.equal(
    cmakeFrom('cmake version 3.16.3\n\nCMake suite maintained and supported by Kitware (kitware.com/cmake).'),
    '3.16.3',
  );
  t.equal(cmakeFrom('bash: cmake: command not found'), null);
  t.equal(nodeFrom('v20.11.1\n'), '20.11.1');
  t.equal(nodeFrom(''), null);
  t.equal(osFrom('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n'), 'Ubuntu 20.04.6 LTS');
  t.equal(osFrom("PRETTY_NAME='Alpine Linux v3.20'"), 'Alpine Linux v3.20');
  t.equal(osFrom('ID=plain'), null);
  t.equal(
    l4tFrom(
      '# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023',
    ),
    'R35.4.1',
  );
  t.equal(l4tFrom(''), null);
});

t.test('TensorRT version from both forms of NvInferVersion.h', async (t) => {
  t.equal(tensorrtVersionFrom(TRT_8_5), '8.5.2');
  t.equal(tensorrtVersionFrom(TRT_10_3), '10.3.0');
  t.equal(tensorrtVersionFrom(TRT_10_16), '10.16.1', 'NV_TENSORRT_MAJOR defined as TRT_MAJOR_ENTERPRISE');
  t.equal(tensorrtVersionFrom('#define NV_TENSORRT_MAJOR 10\n#define NV_TENSORRT_MINOR 3'), null, 'no PATCH');
  t.equal(
    tensorrtVersionFrom(
      '#define NV_TENSORRT_MAJOR A\n#define A B\n#define B A\n#define NV_TENSORRT_MINOR 0\n#define NV_TENSORRT_PATCH 0',
    ),
    null,
    'a cycle of defines ends',
  );
  t.equal(
    tensorrtVersionFrom('  #  define NV_TENSORRT_MAJOR 08\n#define NV_TENSORRT_MINOR 6\n#define NV_TENSORRT_PATCH 1'),
    '8.6.1',
  );
});

t.test('versions compare by number, not by text', async (t) => {
  t.ok(versionAtLeast('10.3.0', '8.6'));
  t.ok(versionAtLeast('3.10', '3.10'));
  t.notOk(versionAtLeast('3.9.6', '3.10'));
  t.notOk(versionAtLeast('2.27', '2.28'));
  t.ok(versionAtLeast('2.100', '2.28'));
});

t.test('the required versions are the ones the sources enforce', async (t) => {
  const cmakeLists = readFileSync(join(REPO_ROOT, 'native', 'CMakeLists.txt'), 'utf8');
  t.equal(/cmake_minimum_required\(VERSION (\d+\.\d+)(?:\.\.\.[\d.]+)?\)/.exec(cmakeLists)?.[1], REQUIRED.cmake);
  const shim = readFileSync(join(REPO_ROOT, 'native', 'effnet_trt.cpp'), 'utf8');
  const guard = /#if !EFFNET_TRT_AT_LEAST\((\d+), (\d+)\)\n#error/.exec(shim);
  t.equal(guard && `${guard[1]}.${guard[2]}`, REQUIRED.tensorrt);
  t.match(
    cmakeLists,
    `if(TENSORRT_VERSION VERSION_LESS "${REQUIRED.tensorrt}")`,
    "CMake's AUTO mode skips the shim below the same version",
  );
  const engines = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
    .engines.node;
  t.equal(engines, `>=${REQUIRED.node}`);
});

t.test(
  'JetPack 4 (Jetson Nano): every problem at once, each with what was found, what is needed and the fix',
  async (t) => {
    t.strictSame(nano, {
      os: 'Ubuntu 18.04.6 LTS',
      l4t: 'R32.7.1',
      machine: 'aarch64',
      glibc: '2.27',
      node: null,
      tensorrt: { dir: '/usr/include/aarch64-linux-gnu', version: '8.2.1', onnxParser: true },
      tensorrtSearched: TENSORRT_INCLUDE_DIRS,
      cmake: '3.10.2',
      cxx: 'g++ (Ubuntu/Linaro 7.5.0-3ubuntu1~18.04) 7.5.0',
      cc: 'gcc (Ubuntu/Linaro 7.5.0-3ubuntu1~18.04) 7.5.0',
    });
    const { problems, warnings } = prerequisiteProblems({
      facts: nano,
      runtime: 'tensorrt',
      target: target('jetson-nano'),
      nodeRequired: true,
    });
    t.strictSame(warnings, []);
    t.equal(
      prerequisitesError({ label: HOST, target: 'jetson-nano', problems }).message,
      [
        'ubuntu@jetson: the device lacks what this jetson-nano bundle needs; nothing was uploaded or installed:',
        '  - glibc: found 2.27 (Ubuntu 18.04.6 LTS; L4T R32.7.1), needed >= 2.28 (official Node.js 20 builds need it); move the device to an OS with glibc 2.28 or later (Ubuntu 20.04, Debian 10 or newer). ' +
          "JetPack 4 (Ubuntu 18.04, glibc 2.27; the Jetson Nano's last JetPack) cannot run effnet-edge's device side: build the engine there with the device's trtexec instead (README, section \"Jetson Nano\")",
        '  - Node.js: found none on the PATH of a non-interactive SSH shell, needed >= 20 (effnet-edge runs on the device); install Node.js 20 or later so that `node` is on that PATH, ' +
          'e.g. from NodeSource (https://github.com/nodesource/distributions), or pass --remote-cli with the full command that runs effnet-edge',
      ].join('\n'),
      'TensorRT 8.2 and CMake 3.10 would do: glibc and Node.js are what JetPack 4 lacks',
    );
  },
);

t.test('JetPack 5 (Xavier NX): TensorRT 8.5 and CMake 3.16 build the shim, nothing missing', async (t) => {
  t.equal(xavier.glibc, '2.31');
  t.equal(xavier.tensorrt?.version, '8.5.2');
  t.strictSame(
    prerequisiteProblems({
      facts: xavier,
      runtime: 'tensorrt',
      target: target('jetson-xavier-nx'),
      nodeRequired: true,
    }),
    { problems: [], warnings: [] },
  );
  const old: DeviceFacts = { ...xavier, tensorrt: { ...xavier.tensorrt!, version: '7.1.3' } };
  t.strictSame(
    prerequisiteProblems({ facts: old, runtime: 'tensorrt', target: target('jetson-xavier-nx'), nodeRequired: true })
      .problems,
    [
      'TensorRT: found 7.1.3 (/usr/include/aarch64-linux-gnu/NvInferVersion.h), needed >= 8.0 (the oldest the shim supports); upgrade JetPack (4.6 ships TensorRT 8.0), ' +
        'or build the engine there with the device\'s trtexec instead (README, section "Jetson Nano")',
    ],
  );
});

t.test('JetPack 6 (Orin Nano): nothing missing; a TensorRT the target does not list is a warning', async (t) => {
  const jp6 = orin(TRT_10_3);
  t.strictSame(
    prerequisiteProblems({ facts: jp6, runtime: 'tensorrt', target: target('jetson-orin-nano'), nodeRequired: true }),
    { problems: [], warnings: [] },
  );
  const newer = orin(TRT_10_16);
  t.strictSame(
    prerequisiteProblems({ facts: newer, runtime: 'tensorrt', target: target('jetson-orin-nano'), nodeRequired: true }),
    {
      problems: [],
      warnings: [
        'the device has TensorRT 10.16.1 and the jetson-orin-nano target lists 8.6, 10.3: the engine is built and checked on the device with 10.16.1 all the same',
      ],
    },
  );
  t.strictSame(
    prerequisiteProblems({
      facts: orin(TRT_10_3, false),
      runtime: 'tensorrt',
      target: target('jetson-orin-nano'),
      nodeRequired: true,
    }).problems,
    [
      "TensorRT ONNX parser: found no NvOnnxParser.h in /usr/include/aarch64-linux-gnu, needed beside NvInferVersion.h (the shim parses the bundle's ONNX); sudo apt-get install libnvonnxparsers-dev",
    ],
  );
});

t.test('no TensorRT, CMake or compilers: refused for a tensorrt target, fine for a CPU target', async (t) => {
  const { problems } = prerequisiteProblems({
    facts: debian,
    runtime: 'tensorrt',
    target: target('jetson-orin-nano'),
    nodeRequired: true,
  });
  t.strictSame(problems, [
    'TensorRT: found no NvInferVersion.h in /usr/include/aarch64-linux-gnu, /usr/include/x86_64-linux-gnu, /usr/include, /usr/local/TensorRT/include, needed TensorRT >= 8.0 with its headers (the shim is compiled on the device); ' +
      'on JetPack 6: sudo apt-get install libnvinfer-dev libnvonnxparsers-dev; elsewhere pass --tensorrt-include <TensorRT>/include (and --tensorrt-lib <TensorRT>/lib)',
    "CMake: found none, needed >= 3.10 (native/CMakeLists.txt; the shim is compiled on the device); sudo apt-get install cmake (every JetPack's Ubuntu ships a new enough one: 18.04 has 3.10, 20.04 3.16, 22.04 3.22)",
    'C++ compiler: found neither g++ nor c++, needed for the TensorRT shim (C++17); sudo apt-get install g++',
    'C compiler: found neither gcc nor cc, needed for the native build (the int8 engine is C); sudo apt-get install gcc',
  ]);
  t.strictSame(
    prerequisiteProblems({ facts: debian, runtime: 'onnxruntime', target: target('cpu-x86_64'), nodeRequired: true }),
    { problems: [], warnings: [] },
  );
  t.strictSame(
    prerequisiteProblems({ facts: debian, runtime: 'onnxruntime', target: target('cpu-arm64'), nodeRequired: true }),
    {
      problems: [],
      warnings: [
        'the cpu-arm64 target is for arm64 CPUs and the device is x86_64: the accuracy check on the device decides whether the bundle holds there',
      ],
    },
  );
});

t.test('musl, an unknown CPU, an old Node.js; Node.js on the PATH is not needed with --remote-cli alone', async (t) => {
  const alpine: DeviceFacts = {
    ...debian,
    os: 'Alpine Linux v3.20',
    glibc: glibcFrom('musl libc (riscv64)'),
    machine: 'riscv64',
    node: '18.20.4',
  };
  t.strictSame(
    prerequisiteProblems({ facts: alpine, runtime: 'onnxruntime', target: target('cpu-arm64'), nodeRequired: true })
      .problems,
    [
      "CPU: found riscv64, needed aarch64 or x86_64 (the CPUs onnxruntime-node, sharp and koffi ship binaries for); effnet-edge's device side cannot run on this device",
      'glibc: found none (neither getconf GNU_LIBC_VERSION nor ldd --version names glibc; Alpine Linux v3.20), needed >= 2.28 (official Node.js 20 builds need it); move the device to an OS with glibc 2.28 or later (Ubuntu 20.04, Debian 10 or newer). ' +
        "JetPack 4 (Ubuntu 18.04, glibc 2.27; the Jetson Nano's last JetPack) cannot run effnet-edge's device side: build the engine there with the device's trtexec instead (README, section \"Jetson Nano\")",
      'Node.js: found v18.20.4, needed >= 20 (effnet-edge runs on the device); install Node.js 20 or later so that `node` is on that PATH, e.g. from NodeSource (https://github.com/nodesource/distributions), or pass --remote-cli with the full command that runs effnet-edge',
    ],
  );
  t.strictSame(
    prerequisiteProblems({
      facts: { ...debian, node: null },
      runtime: 'onnxruntime',
      target: target('cpu-x86_64'),
      nodeRequired: false,
    }).problems,
    [],
  );
});

t.test('free space: what is left to send, twice over', async (t) => {
  const files = [
    { name: 'a', local: '/a', sha256: 'x'.repeat(64), size: 300 << 20 },
    { name: 'b', local: '/b', sha256: 'y'.repeat(64), size: 100 << 20 },
  ];
  t.equal(
    freeSpaceProblem({
      root: '/home/u/.effnet-edge',
      availableBytes: 500 << 20,
      files,
      hashes: new Map([['a', 'x'.repeat(64)]]),
    }),
    null,
    'a is already there',
  );
  t.equal(
    freeSpaceProblem({ root: '/home/u/.effnet-edge', availableBytes: 500 << 20, files, hashes: new Map() }),
    'disk: found 500 MiB free under /home/u/.effnet-edge, needed 800 MiB (what is left to send, twice over, for the engine); free space or pass --keep 1 on the next deploy',
  );
});

t.test('the probe commands; the shim is built against the TensorRT found', async (t) => {
  t.equal(deviceFactsCommands({ tensorrtInclude: null }).length, DEVICE_FACTS_SECTIONS);
  t.match(
    deviceFactsCommands({ tensorrtInclude: '/opt/TensorRT 10/include' })[5],
    /^printf '%s\\n' '\/opt\/TensorRT 10\/include'; for d in '\/opt\/TensorRT 10\/include'; do /,
  );
  t.equal(tensorrtLibDirFor('/usr/include/aarch64-linux-gnu'), '/usr/lib/aarch64-linux-gnu');
  t.equal(tensorrtLibDirFor('/usr/include/x86_64-linux-gnu/'), '/usr/lib/x86_64-linux-gnu');
  t.equal(tensorrtLibDirFor('/usr/include'), '/usr/lib');
  t.equal(tensorrtLibDirFor('/usr/local/TensorRT/include'), '/usr/local/TensorRT/lib');
  t.equal(tensorrtLibDirFor('/opt/trt/headers'), null);
  t.equal(
    nativeBuildCommand({
      cli: 'effnet-edge',
      include: '/usr/include/aarch64-linux-gnu',
      lib: '/usr/lib/aarch64-linux-gnu',
    }),
    'effnet-edge native build --tensorrt --tensorrt-include /usr/include/aarch64-linux-gnu --tensorrt-lib /usr/lib/aarch64-linux-gnu',
  );
  t.equal(
    nativeBuildCommand({ cli: 'effnet-edge', include: '/opt/trt/headers', lib: null }),
    'effnet-edge native build --tensorrt --tensorrt-include /opt/trt/headers',
  );
});
