import { describe, it, expect } from 'vitest';
import { DataType, encodeModel } from '../../companion/models/onnx/proto.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { tokenizeBytes } from '../../companion/models/tokenizer.ts';

describe('ONNX protobuf writer', () => {
  it('writes what a reader finds: opset, symbolic dims, external data, negative ints', () => {
    const bytes = encodeModel({
      graph: {
        name: 'g',
        nodes: [{ opType: 'Transpose', name: 'n0', inputs: ['x'], outputs: ['y'], attributes: { perm: { kind: 'ints', value: [-1, 0] } } }],
        initializers: [{ name: 'w', dataType: DataType.FLOAT, dims: [3, 2], external: { location: 'g.onnx.data', offset: 4096, length: 24 } }],
        inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 5] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [5, 'batch'] }],
      },
    });
    const s = inspectModel(bytes);
    expect([s.irVersion, s.opset, s.producerName]).toEqual([8, 17, 'reshoot']);
    expect(s.inputs).toEqual([{ name: 'x', elemType: 1, shape: ['batch', 5] }]);
    expect(s.outputs).toEqual([{ name: 'y', elemType: 1, shape: [5, 'batch'] }]);
    expect(s.initializers).toEqual([{ name: 'w', dims: [3, 2], dataType: 1, external: { location: 'g.onnx.data', offset: 4096, length: 24 } }]);
    expect(s.opTypes).toEqual(['Transpose']);
    // -1 as int64 is ten bytes: 0xff × 9, 0x01
    expect(Buffer.from(bytes).includes(Buffer.from([0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(true);
  });
});

describe('byte tokenizer', () => {
  it('maps UTF-8 bytes to byte + 1, pads with 0 and truncates', () => {
    const t = tokenizeBytes('hé', 5);
    expect(Array.from(t.ids)).toEqual([105n, 0xc3n + 1n, 0xa9n + 1n, 0n, 0n]);
    expect(Array.from(t.mask)).toEqual([1n, 1n, 1n, 0n, 0n]);
    expect(t.length).toBe(3);
    const long = tokenizeBytes('abcdef', 4);
    expect(Array.from(long.ids)).toEqual([98n, 99n, 100n, 101n]);
    expect(long.length).toBe(4);
  });
});
