/**
 * Hostile weight files (issue 16): a safetensors header is untrusted JSON, validated by one schema; offsets must be
 * ordered, inside the data area and sized by dtype × shape, so no tensor is ever read from the header's own bytes.
 */
import t from 'tap';
import { safetensorsFromBytes } from '../../toolkit/model/safetensors.js';

/** A safetensors file with `header` (any JSON text) and `data` bytes after it. */
function file(header: string, data: Uint8Array = new Uint8Array(16)): Uint8Array {
  const text = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + text.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  return bytes;
}

const read = (header: string, data?: Uint8Array) => () =>
  safetensorsFromBytes({ bytes: file(header, data), file: 'w.safetensors' });

t.test('a well-formed file reads', async (t) => {
  const tensors = safetensorsFromBytes({
    bytes: file(
      '{"b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
    ),
    file: 'w.safetensors',
  });
  t.strictSame([...tensors.keys()], ['a', 'b']);
});

t.test('headers that are not what safetensors writes: each names the tensor and field', async (t) => {
  const cases: [string, string, string][] = [
    ['null header', 'null', 'w.safetensors (header): the document: expected an object, got null'],
    ['a list', '[1, 2]', 'w.safetensors (header): the document: expected an object, got a list of 2'],
    [
      'negative offset (reads the header as weights)',
      '{"classifier.bias": {"dtype": "F32", "shape": [10], "data_offsets": [-40, 0]}}',
      'w.safetensors (header): ["classifier.bias"].data_offsets[0]: expected >= 0, got -40',
    ],
    [
      'reversed offsets',
      '{"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}',
      'w.safetensors (header): w.data_offsets: begin must not be after end',
    ],
    [
      'fractional offset',
      '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0.5, 4.5]}}',
      'w.safetensors (header): w.data_offsets[0]: expected an integer, got 0.5',
    ],
    [
      'unknown dtype',
      '{"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}',
      'w.safetensors (header): w.dtype: expected "F64" or "F32" or "F16" or "BF16" or "I64" or "I32" or "I16" or "I8" or "U8" or "BOOL", got "F8"',
    ],
    ['null entry', '{"w": null}', 'w.safetensors (header): w: expected an object, got null'],
    [
      'extra key',
      '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "file": "/etc/passwd"}}',
      "w.safetensors (header): w: unknown key 'file'",
    ],
    [
      'bad metadata',
      '{"__metadata__": {"format": 1}}',
      'w.safetensors (header): __metadata__: expected an object of strings',
    ],
    [
      'duplicate key',
      '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
      'w.safetensors: key "w" appears twice in one object; a JSON object must name each key once',
    ],
  ];
  for (const [name, header, message] of cases) t.throws(read(header), { message }, name);
  t.throws(read('{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}'), {
    message: "w.safetensors: tensor 'w' holds 8 bytes (data_offsets [0, 8]) but shape [3] F32 needs 12",
  });
  t.throws(
    read(
      '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}',
    ),
    {
      message: "w.safetensors: tensor 'b' (data_offsets [4, 12]) overlaps the tensor before it; the header is damaged",
    },
  );
  t.throws(read('{"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}'), {
    message: /^w\.safetensors: truncated: tensor 'w' ends at byte \d+ but the file has \d+$/,
  });
});
