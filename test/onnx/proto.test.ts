import t from 'tap';
import { DataType, type Attribute, type Model, type Tensor, type TensorData } from '../../toolkit/onnx/ir.js';
import { makeNode, makeTensor } from '../../toolkit/onnx/graph.js';
import { decodeModel, encodeModel, SchemaError } from '../../toolkit/onnx/proto.js';
import { TensorField as TF } from '../../toolkit/onnx/schema.js';
import { WireType, WireWriter } from '../../toolkit/onnx/wire.js';
import { firstDifference, fixtureBytes, tinyModel } from './fixtures/models.js';

const encode = (m: Model): Uint8Array => encodeModel(m).concat();
const decode = (b: Uint8Array): Model => decodeModel(b).model;

t.test('the torch export re-encodes to the very same bytes', async (t) => {
  const bytes = fixtureBytes();
  const model = decode(bytes);
  t.equal(model.irVersion, 7);
  t.same(model.opsetImports, [{ domain: '', version: 13 }]);
  t.equal(model.graph.nodes.length, 239);
  t.equal(model.graph.initializers.length, 164);
  const again = encode(model);
  t.equal(again.length, bytes.length);
  t.ok(Buffer.from(again).equals(Buffer.from(bytes)), 'byte-identical');
});

t.test('encode → decode → encode is lossless and deterministic', async (t) => {
  for (const [name, model] of [
    ['tiny', tinyModel()],
    ['fixture', decode(fixtureBytes())],
  ] as const) {
    const first = encode(model);
    const decoded = decode(first);
    t.equal(firstDifference(decoded, model), undefined, `${name}: IR survives`);
    t.ok(Buffer.from(encode(decoded)).equals(Buffer.from(first)), `${name}: bytes identical`);
    t.ok(Buffer.from(encode(model)).equals(Buffer.from(first)), `${name}: same IR, same bytes`);
  }
});

t.test('raw_data is copied into aligned typed arrays', async (t) => {
  const model = decode(fixtureBytes());
  for (const init of model.graph.initializers) {
    const data = init.data as Float32Array;
    if (data.byteOffset % 4 !== 0 || data.buffer.byteLength !== data.byteLength) {
      t.fail(`${init.name} is a view at offset ${data.byteOffset}`);
      return;
    }
  }
  t.pass('every initializer owns an aligned buffer');
});

t.test('attribute order does not change the bytes', async (t) => {
  const a = tinyModel();
  const b = tinyModel();
  const conv = b.graph.nodes[0]!;
  const reversed: Record<string, Attribute> = {};
  for (const k of Object.keys(conv.attributes).reverse()) reversed[k] = conv.attributes[k]!;
  conv.attributes = reversed;
  t.ok(Buffer.from(encode(a)).equals(Buffer.from(encode(b))));
});

t.test('every supported data type round trips through raw_data', async (t) => {
  const tensors: Tensor[] = [
    makeTensor({ name: 'f32', dataType: DataType.FLOAT, dims: [3], data: new Float32Array([1.5, -2, 3e-9]) }),
    makeTensor({ name: 'f64', dataType: DataType.DOUBLE, dims: [2], data: new Float64Array([Math.PI, -0]) }),
    makeTensor({ name: 'i8', dataType: DataType.INT8, dims: [3], data: new Int8Array([-128, 0, 127]) }),
    makeTensor({ name: 'u8', dataType: DataType.UINT8, dims: [2], data: new Uint8Array([0, 255]) }),
    makeTensor({ name: 'i16', dataType: DataType.INT16, dims: [2], data: new Int16Array([-32768, 5]) }),
    makeTensor({ name: 'u16', dataType: DataType.UINT16, dims: [1], data: new Uint16Array([65535]) }),
    makeTensor({ name: 'i32', dataType: DataType.INT32, dims: [2], data: new Int32Array([-(2 ** 31), 7]) }),
    makeTensor({ name: 'u32', dataType: DataType.UINT32, dims: [1], data: new Uint32Array([2 ** 32 - 1]) }),
    makeTensor({ name: 'i64', dataType: DataType.INT64, dims: [2], data: new BigInt64Array([-(2n ** 63n), -1n]) }),
    makeTensor({ name: 'u64', dataType: DataType.UINT64, dims: [1], data: new BigUint64Array([2n ** 64n - 1n]) }),
    makeTensor({ name: 'b', dataType: DataType.BOOL, dims: [2], data: new Uint8Array([1, 0]) }),
    makeTensor({ name: 'f16', dataType: DataType.FLOAT16, dims: [1], data: new Uint16Array([0x3c00]) }),
    makeTensor({ name: 'bf16', dataType: DataType.BFLOAT16, dims: [1], data: new Uint16Array([0x3f80]) }),
    makeTensor({ name: 's', dataType: DataType.STRING, dims: [2], data: ['a', 'ünï'] }),
    makeTensor({ name: 'scalar', dataType: DataType.FLOAT, dims: [], data: new Float32Array([4]) }),
    makeTensor({ name: 'empty', dataType: DataType.FLOAT, dims: [0, 3], data: new Float32Array(0) }),
  ];
  const model = tinyModel();
  model.graph.initializers.push(...tensors);
  const back = decode(encode(model));
  t.equal(firstDifference(back, model), undefined);
});

t.test('int64 attributes keep bigints beyond 2^53, and subgraphs round trip', async (t) => {
  const model = tinyModel();
  const sub = tinyModel().graph;
  model.graph.nodes.push(
    makeNode({
      name: 'if',
      opType: 'If',
      inputs: ['cond'],
      outputs: ['z'],
      attributes: {
        then_branch: { type: 'graph', value: sub },
        else_branch: { type: 'graph', value: { ...sub, name: 'else' } },
        big: { type: 'int', value: 2n ** 60n },
        neg: { type: 'ints', value: [-1, -(2n ** 62n), 3] },
        f: { type: 'float', value: 0.25 },
        fs: { type: 'floats', value: [0.5, -1] },
        s: { type: 'string', value: 'SAME_UPPER' },
        ss: { type: 'strings', value: ['a', ''] },
        tt: {
          type: 'tensors',
          value: [makeTensor({ name: 'k', dataType: DataType.INT64, dims: [1], data: new BigInt64Array([5n]) })],
        },
      },
    }),
  );
  const back = decode(encode(model));
  t.equal(firstDifference(back, model), undefined);
});

/** One initializer written field by field, as other exporters might. */
function modelWithTensor(write: (w: WireWriter) => void): Uint8Array {
  const w = new WireWriter();
  w.tag(1, WireType.VARINT).int64(8);
  w.fork();
  w.fork();
  write(w);
  w.join(5);
  w.join(7);
  return w.concat();
}

/** Each way ONNX stores typed values (packed or not, in which *_data field), and the array it must decode to. */
const TYPED_DATA_CASES: [string, (w: WireWriter) => void, TensorData][] = [
  [
    'float_data packed',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT);
      w.fork().float(1.5).float(-3);
      w.join(TF.floatData);
    },
    new Float32Array([1.5, -3]),
  ],
  [
    'float_data unpacked',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT);
      w.tag(TF.floatData, WireType.I32).float(1.5).tag(TF.floatData, WireType.I32).float(-3);
    },
    new Float32Array([1.5, -3]),
  ],
  [
    'int32_data for INT8',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(3).tag(TF.dataType, WireType.VARINT).int32(DataType.INT8);
      w.fork().int32(-128).int32(0).int32(127);
      w.join(TF.int32Data);
    },
    new Int8Array([-128, 0, 127]),
  ],
  [
    'int32_data for UINT8, unpacked',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.UINT8);
      w.tag(TF.int32Data, WireType.VARINT).int32(200).tag(TF.int32Data, WireType.VARINT).int32(3);
    },
    new Uint8Array([200, 3]),
  ],
  [
    'int32_data for FLOAT16 bits',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(1).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT16);
      w.fork().int32(0xc000);
      w.join(TF.int32Data);
    },
    new Uint16Array([0xc000]),
  ],
  [
    'int32_data for BOOL',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.BOOL);
      w.fork().int32(1).int32(0);
      w.join(TF.int32Data);
    },
    new Uint8Array([1, 0]),
  ],
  [
    'int32_data for INT32',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.INT32);
      w.fork()
        .int32(-5)
        .int32(2 ** 31 - 1);
      w.join(TF.int32Data);
    },
    new Int32Array([-5, 2 ** 31 - 1]),
  ],
  [
    'int64_data',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.INT64);
      w.fork()
        .int64(-1)
        .int64(2n ** 62n);
      w.join(TF.int64Data);
    },
    new BigInt64Array([-1n, 2n ** 62n]),
  ],
  [
    'double_data',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(1).tag(TF.dataType, WireType.VARINT).int32(DataType.DOUBLE);
      w.fork().double(Math.E);
      w.join(TF.doubleData);
    },
    new Float64Array([Math.E]),
  ],
  [
    'uint64_data for UINT32',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(1).tag(TF.dataType, WireType.VARINT).int32(DataType.UINT32);
      w.fork().int64(4000000000);
      w.join(TF.uint64Data);
    },
    new Uint32Array([4000000000]),
  ],
  [
    'uint64_data for UINT64',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(1).tag(TF.dataType, WireType.VARINT).int32(DataType.UINT64);
      w.fork().int64(2n ** 64n - 1n);
      w.join(TF.uint64Data);
    },
    new BigUint64Array([2n ** 64n - 1n]),
  ],
  [
    'string_data',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.STRING);
      w.tag(TF.stringData, WireType.LEN).string('x').tag(TF.stringData, WireType.LEN).string('yz');
    },
    ['x', 'yz'],
  ],
  [
    'raw_data at an odd offset',
    (w) => {
      w.tag(TF.dims, WireType.VARINT).int64(2).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT);
      w.tag(TF.name, WireType.LEN).string('odd');
      w.tag(TF.rawData, WireType.LEN).bytes(new Uint8Array(new Float32Array([7, -8]).buffer));
    },
    new Float32Array([7, -8]),
  ],
];

t.test('typed *_data fields decode into the documented arrays', async (t) => {
  for (const [name, write, expected] of TYPED_DATA_CASES) {
    const tensor = decode(modelWithTensor(write)).graph.initializers[0]!;
    t.equal(firstDifference(tensor.data, expected), undefined, name);
  }
});

t.test('data that does not fit its tensor is a SchemaError', async (t) => {
  const cases: [string, (w: WireWriter) => void, string][] = [
    [
      'wrong raw length',
      (w) => {
        w.tag(TF.dims, WireType.VARINT).int64(3).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT);
        w.tag(TF.name, WireType.LEN).string('w');
        w.tag(TF.rawData, WireType.LEN).bytes(new Uint8Array(8));
      },
      "tensor 'w' has 8 bytes of raw_data but its dims [3] and type FLOAT need 12",
    ],
    [
      'wrong count',
      (w) => {
        w.tag(TF.dims, WireType.VARINT).int64(3).tag(TF.dataType, WireType.VARINT).int32(DataType.FLOAT);
        w.tag(TF.floatData, WireType.I32).float(1);
        w.tag(TF.name, WireType.LEN).string('w');
      },
      "tensor 'w' holds 1 value but its dims [3] need 3",
    ],
    [
      'complex',
      (w) => {
        w.tag(TF.dataType, WireType.VARINT).int32(DataType.COMPLEX64).tag(TF.name, WireType.LEN).string('c');
      },
      "tensor 'c' has data type COMPLEX64, which effnet-edge does not support (supported: FLOAT, UINT8, INT8, " +
        'UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16)',
    ],
    [
      'wrong field',
      (w) => {
        w.tag(TF.dims, WireType.VARINT).int64(1).tag(TF.dataType, WireType.VARINT).int32(DataType.INT32);
        w.tag(TF.floatData, WireType.I32).float(1);
        w.tag(TF.name, WireType.LEN).string('q');
      },
      "tensor 'q' of type INT32 stores its values in float_data, which ONNX reserves for other types",
    ],
  ];
  for (const [name, write, message] of cases) {
    t.throws(() => decode(modelWithTensor(write)), new SchemaError(message), name);
  }
});

t.test('sparse initializers are rejected with a hint', async (t) => {
  const w = new WireWriter();
  w.tag(1, WireType.VARINT).int64(8);
  w.fork();
  w.tag(2, WireType.LEN).string('g');
  w.fork();
  w.join(15);
  w.join(7);
  t.throws(
    () => decode(w.concat()),
    new SchemaError(
      "graph 'g' has 1 sparse initializer(s), which effnet-edge does not support; store them as dense initializers " +
        '(onnx: numpy_helper.from_array on the densified values)',
    ),
  );
});

t.test('unknown fields are skipped and reported', async (t) => {
  const w = new WireWriter();
  w.tag(1, WireType.VARINT).int64(8);
  w.fork();
  w.join(7);
  w.fork();
  w.join(25);
  w.tag(99, WireType.VARINT).uint32(1);
  const decoded = decodeModel(w.concat());
  t.same(decoded.warnings, [
    'ignored 1 × model-local function (nodes that call it will not run)',
    'ignored 1 × ModelProto field 99',
  ]);
});
