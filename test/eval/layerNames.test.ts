import t from 'tap';
import {
  isCopyLayerName,
  isParserMadeName,
  looksLikeQdqName,
  metadataNodesOf,
  nameTokensOf,
} from '../../toolkit/eval/layerNames.js';

t.test('name tokens: fusions, pointwise groups and Myelin ranges', async (t) => {
  t.strictSame(nameTokensOf('conv1.weight + QuantizeLinear_7 + Conv_9'), {
    names: ['conv1.weight', 'QuantizeLinear_7', 'Conv_9'],
    ranges: [],
  });
  t.strictSame(nameTokensOf('/features/0/Conv + PWN(PWN(/features/0/Sigmoid), /features/0/Mul)'), {
    names: ['/features/0/Conv', '/features/0/Sigmoid', '/features/0/Mul'],
    ranges: [],
  });
  t.strictSame(nameTokensOf('PWN(a + b, c)'), { names: ['a', 'b', 'c'], ranges: [] });
  t.strictSame(nameTokensOf('{ForeignNode[features.4.0.block.0.0.weight.../classifier/Gemm]}'), {
    names: [],
    ranges: [{ first: 'features.4.0.block.0.0.weight', last: '/classifier/Gemm' }],
  });
  t.strictSame(nameTokensOf('{ForeignNode[/head/Gemm]}'), { names: ['/head/Gemm'], ranges: [] });
  t.strictSame(
    nameTokensOf('fc.weight + Gemm_311 + (Unnamed Layer* 360) [Shuffle] + unsqueeze_node_after_fc.bias').names,
    ['fc.weight', 'Gemm_311', '(Unnamed Layer* 360) [Shuffle]', 'unsqueeze_node_after_fc.bias'],
    'names with brackets stay whole',
  );
  t.strictSame(
    nameTokensOf('Reformatting CopyNode for Output Tensor 0 to Conv_10 + Add_11 + Relu_12'),
    { names: [], ranges: [] },
    'a copy names nothing',
  );
});

t.test('which names are copies, parser-made, or Q/DQ', async (t) => {
  t.ok(isCopyLayerName('Reformatting CopyNode for Input Tensor 1 to Conv_5 + Add_6 + Relu_7'));
  t.notOk(isCopyLayerName('QuantizeLinear_2'));
  for (const name of [
    'copied_squeeze_after_(Unnamed Layer* 361) [ElementWise]',
    '(Unnamed Layer* 306) [Shuffle]',
    'unsqueeze_node_after_fc.bias',
    'reshape_after_Gemm_48',
    'transpose_before_resnet50/quant_predictions/MatMul',
  ]) {
    t.ok(isParserMadeName(name), name);
  }
  t.notOk(isParserMadeName('resnet50/quant_conv1_conv/BiasAdd__1121'));
  for (const name of [
    'QuantizeLinear_2',
    'DequantizeLinear_291',
    'QuantLinearNode__838',
    '/features/0/DequantizeLinear',
    'onnx::Conv_650.quantize',
    'x.dequantize',
  ]) {
    t.ok(looksLikeQdqName(name), name);
  }
  for (const name of [
    'Conv_9',
    'conv1.weight',
    'resnet50/quant_conv1_conv/LastValueQuant/QuantizeAndDequantizeV4/ReadVariableOp:0',
  ])
    t.notOk(looksLikeQdqName(name), name);
});

t.test('Metadata records, with properties and records of other shapes', async (t) => {
  t.strictSame(
    metadataNodesOf(
      '[ONNX Layer: /features/0/Conv]\x1F[ONNX Layer: /features/0/Sigmoid]\x1E[ONNX Layer: /features/0/Mul]',
    ),
    ['/features/0/Conv', '/features/0/Sigmoid', '/features/0/Mul'],
  );
  t.strictSame(
    metadataNodesOf(
      '[ONNX Layer: /a/Conv | Local Function: block]\x1F[ONNX Layer: x[0]]\x1Fsomething else\x1F[ONNX Layer: ]',
    ),
    ['/a/Conv', 'x[0]'],
  );
  t.strictSame(metadataNodesOf(''), []);
});
