/**
 * The import direction (README, "Architecture"): a module imports only from its own layer or the ones before it.
 *   base (errors, schema, paths, targets) → onnx → model → passes → runtime → calibration → eval → quant → bundle
 *   → pipeline · device · deploy → cli;  bench/ sits on top.
 * `npm run lint` fails on any import that points back up, and on import cycles.
 */
const LAYERS = [
  ['base', '^(toolkit/(errors|packagePaths|version|schema|insideFolder|numbers|sshPatterns)\\.ts|targets/)'],
  ['onnx', '^toolkit/onnx/'],
  ['model', '^toolkit/model/'],
  ['passes', '^toolkit/passes/'],
  ['runtime', '^toolkit/runtime/'],
  ['calibration', '^calibration/'],
  ['eval', '^toolkit/eval/'],
  ['quant', '^toolkit/quant/'],
  ['bundle', '^toolkit/bundle/'],
  ['pipeline, device, deploy', '^toolkit/(pipeline|device|deploy)/'],
  ['cli', '^toolkit/cli/'],
  ['bench', '^bench/'],
];

const upward = LAYERS.flatMap(([name, path], index) => {
  const above = LAYERS.slice(index + 1)
    .map(([, p]) => `(${p})`)
    .join('|');
  return above
    ? [
        {
          name: `no-upward-from-${name.replace(/[^a-z]+/g, '-')}`,
          comment: `${name} is below ${LAYERS.slice(index + 1)
            .map(([n]) => n)
            .join(', ')}: it may not import from them`,
          severity: 'error',
          from: { path },
          to: { path: above },
        },
      ]
    : [];
});

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a cycle',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-test-imports-in-product',
      comment: 'the product never imports tests',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|native|\\.tap)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
