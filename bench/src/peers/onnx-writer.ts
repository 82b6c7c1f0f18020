import { endianness } from 'node:os';
import { Writer } from 'protobufjs/minimal.js';

/*
 * A minimal ONNX ModelProto encoder: just what a feed-forward float32 graph with stored weights
 * needs. Field numbers are those of onnx/onnx.proto (proto2); only the fields below are written.
 * protobufjs's Writer does the wire format (varints, length-delimited forks), as in caffe-import.
 */

/** Field numbers of the ONNX messages this writer emits. */
const field = {
  model: { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 },
  operatorSetId: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, f: 2, i: 3, ints: 8, type: 20 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  typeTensor: { elemType: 1, shape: 2 },
  tensorShape: { dim: 1 },
  dimension: { dimValue: 1, dimParam: 2 },
} as const;

/** AttributeProto.AttributeType values. */
const attributeType = { float: 1, int: 2, ints: 7 } as const;
/** TensorProto.DataType FLOAT. */
const floatType = 1;

const wire = { varint: 0, fixed32: 5, delimited: 2 } as const;

/** A node attribute: one float, one integer or a list of integers (all CaffeNet needs). */
export type OnnxAttribute = { name: string; float: number } | { name: string; int: number } | { name: string; ints: readonly number[] };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

/** A float32 initializer: `data` row-major in `dims`, stored as raw little-endian bytes. */
export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/** A float32 graph input or output; a string dimension is symbolic (e.g. the batch). */
export interface OnnxValueInfo {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  /** Topologically sorted. */
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  /** IR version (7 goes with opset 13). */
  irVersion: number;
  /** Version of the default ("ai.onnx") operator set. */
  opsetVersion: number;
  producerName: string;
  graph: OnnxGraph;
}

const tag = (writer: Writer, id: number, type: number): Writer => writer.uint32((id << 3) | type);

function writeString(writer: Writer, id: number, value: string): void {
  tag(writer, id, wire.delimited).string(value);
}

function writeInt(writer: Writer, id: number, value: number): void {
  tag(writer, id, wire.varint).int64(value);
}

/** Writes a length-delimited submessage `id` with `body`. */
function writeMessage(writer: Writer, id: number, body: (writer: Writer) => void): void {
  tag(writer, id, wire.delimited).fork();
  body(writer);
  writer.ldelim();
}

function writeAttribute(writer: Writer, attribute: OnnxAttribute): void {
  const f = field.attribute;
  writeString(writer, f.name, attribute.name);
  if ('float' in attribute) {
    writeInt(writer, f.type, attributeType.float);
    tag(writer, f.f, wire.fixed32).float(attribute.float);
  } else if ('int' in attribute) {
    writeInt(writer, f.type, attributeType.int);
    writeInt(writer, f.i, attribute.int);
  } else {
    writeInt(writer, f.type, attributeType.ints);
    // proto2 repeated scalars are unpacked unless declared packed: one tag per element.
    for (const value of attribute.ints) writeInt(writer, f.ints, value);
  }
}

function writeNode(writer: Writer, node: OnnxNode): void {
  const f = field.node;
  for (const input of node.inputs) writeString(writer, f.input, input);
  for (const output of node.outputs) writeString(writer, f.output, output);
  writeString(writer, f.name, node.name);
  writeString(writer, f.opType, node.opType);
  for (const attribute of node.attributes ?? []) writeMessage(writer, f.attribute, (w) => writeAttribute(w, attribute));
}

function writeTensor(writer: Writer, tensor: OnnxTensor): void {
  const f = field.tensor;
  const count = tensor.dims.reduce((product, dim) => product * dim, 1);
  if (count !== tensor.data.length) throw new Error(`initializer ${tensor.name}: dims [${tensor.dims}] hold ${count} values, data has ${tensor.data.length}`);
  for (const dim of tensor.dims) writeInt(writer, f.dims, dim);
  writeInt(writer, f.dataType, floatType);
  writeString(writer, f.name, tensor.name);
  // raw_data is little-endian by definition: the Float32Array's own bytes on a little-endian host.
  tag(writer, f.rawData, wire.delimited).bytes(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
}

function writeValueInfo(writer: Writer, value: OnnxValueInfo): void {
  writeString(writer, field.valueInfo.name, value.name);
  writeMessage(writer, field.valueInfo.type, (type) =>
    writeMessage(type, field.type.tensorType, (tensorType) => {
      writeInt(tensorType, field.typeTensor.elemType, floatType);
      writeMessage(tensorType, field.typeTensor.shape, (shape) => {
        for (const dim of value.shape) {
          writeMessage(shape, field.tensorShape.dim, (d) => {
            if (typeof dim === 'string') writeString(d, field.dimension.dimParam, dim);
            else writeInt(d, field.dimension.dimValue, dim);
          });
        }
      });
    }),
  );
}

function writeGraph(writer: Writer, graph: OnnxGraph): void {
  const f = field.graph;
  for (const node of graph.nodes) writeMessage(writer, f.node, (w) => writeNode(w, node));
  writeString(writer, f.name, graph.name);
  for (const tensor of graph.initializers) writeMessage(writer, f.initializer, (w) => writeTensor(w, tensor));
  for (const input of graph.inputs) writeMessage(writer, f.input, (w) => writeValueInfo(w, input));
  for (const output of graph.outputs) writeMessage(writer, f.output, (w) => writeValueInfo(w, output));
}

/** The serialized ModelProto (the bytes of a .onnx file). Initializers are copied once, into the result. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  if (endianness() !== 'LE') throw new Error('encodeOnnxModel writes raw_data from Float32Array bytes and needs a little-endian host');
  const writer = Writer.create();
  const f = field.model;
  writeInt(writer, f.irVersion, model.irVersion);
  writeString(writer, f.producerName, model.producerName);
  writeMessage(writer, f.graph, (w) => writeGraph(w, model.graph));
  writeMessage(writer, f.opsetImport, (w) => {
    writeString(w, field.operatorSetId.domain, '');
    writeInt(w, field.operatorSetId.version, model.opsetVersion);
  });
  return writer.finish();
}
