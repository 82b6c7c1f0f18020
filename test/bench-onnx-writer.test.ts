import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel } from '../bench/src/peers/onnx-writer.js';

/**
 * The peers benchmark writes its ONNX model with a hand-rolled encoder; here its bytes are read
 * back by protobufjs through a schema written independently of the encoder: the subset of
 * onnx/onnx.proto (proto2) with the ONNX field numbers, so a wrong number or wire type shows up
 * as a missing or garbled field.
 */
const schema = `
syntax = "proto2";
package onnx;
message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  repeated int64 ints = 8;
  optional int32 type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
}
message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;

describe('bench ONNX writer', () => {
  it('encodes a ModelProto that protobufjs decodes field by field', () => {
    // A view into a larger buffer: raw_data must hold the view's bytes, not the whole buffer's.
    const weights = new Float32Array([9, 1.5, -2, 0.25, 3, 9]).subarray(1, 5);
    const bytes = encodeOnnxModel({
      irVersion: 7,
      opsetVersion: 13,
      producerName: 'test',
      graph: {
        name: 'g',
        nodes: [
          {
            opType: 'Conv',
            name: 'conv',
            inputs: ['x', 'w'],
            outputs: ['y'],
            attributes: [
              { name: 'pads', ints: [1, 1, 1, 1] },
              { name: 'group', int: 2 },
            ],
          },
          { opType: 'LRN', name: 'lrn', inputs: ['y'], outputs: ['z'], attributes: [{ name: 'alpha', float: 0.5 }] },
        ],
        initializers: [{ name: 'w', dims: [2, 1, 1, 2], data: weights }],
        inputs: [{ name: 'x', shape: ['N', 2, 3, 3] }],
        outputs: [{ name: 'z', shape: ['N', 2, 3, 3] }],
      },
    });
    const ModelProto = protobuf.parse(schema, { keepCase: true }).root.lookupType('onnx.ModelProto');
    const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false });
    expect(model.ir_version).toBe(7);
    expect(model.producer_name).toBe('test');
    expect(model.opset_import).toEqual([{ domain: '', version: 13 }]);
    const graph = model.graph;
    expect(graph.name).toBe('g');
    expect(graph.node).toEqual([
      {
        input: ['x', 'w'],
        output: ['y'],
        name: 'conv',
        op_type: 'Conv',
        attribute: [
          { name: 'pads', type: 7, ints: [1, 1, 1, 1] },
          { name: 'group', type: 2, i: 2 },
        ],
      },
      { input: ['y'], output: ['z'], name: 'lrn', op_type: 'LRN', attribute: [{ name: 'alpha', type: 1, f: 0.5 }] },
    ]);
    const [initializer] = graph.initializer;
    expect(initializer.name).toBe('w');
    expect(initializer.dims).toEqual([2, 1, 1, 2]);
    expect(initializer.data_type).toBe(1);
    const raw = initializer.raw_data as Uint8Array;
    expect([...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))]).toEqual([1.5, -2, 0.25, 3]);
    const dims = (value: { type: { tensor_type: { elem_type: number; shape: { dim: object[] } } } }) => [value.type.tensor_type.elem_type, value.type.tensor_type.shape.dim];
    expect(dims(graph.input[0])).toEqual([1, [{ dim_param: 'N' }, { dim_value: 2 }, { dim_value: 3 }, { dim_value: 3 }]]);
    expect(graph.output[0].name).toBe('z');
  });

  it('rejects an initializer whose data does not fill its dims', () => {
    const graph = { name: 'g', nodes: [], inputs: [], outputs: [], initializers: [{ name: 'w', dims: [2, 2], data: new Float32Array(3) }] };
    expect(() => encodeOnnxModel({ irVersion: 7, opsetVersion: 13, producerName: 'test', graph })).toThrow(/dims \[2,2\] hold 4 values, data has 3/);
  });
});
