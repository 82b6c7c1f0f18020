import type { LayerParamsByType, LayerType } from '@cnn/nn';
import type { LayerParameter } from './schema.js';

/*
 * The link between the two descriptions of a layer's parameters: the decoded Caffe message
 * (schema.ts, snake_case, what a file holds) and the parameters nn builds the layer from
 * (`LayerParamsByType`, camelCase). nn's key `innerProduct` is the message field
 * `inner_product_param` renamed, its fields the message's fields renamed (`num_output` ->
 * `numOutput`). The types below say so, and `SchemaMatchesNn` makes a field of nn's that the
 * schema lacks, or types differently, a compile error naming the layer type and the field.
 */

/** `num_output` -> `numOutput`, as a type (what `camel` in build.ts does to a name). */
export type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/** `innerProduct` -> `inner_product`, as a type. */
type Snake<S extends string> = S extends `${infer First}${infer Rest}` ? `${First extends Lowercase<First> ? First : `_${Lowercase<First>}`}${Snake<Rest>}` : S;

/** A decoded message with its keys renamed to camelCase, recursively (what `camelKeys` in build.ts does). */
export type Camelized<T> = T extends ArrayBufferView
  ? T
  : T extends readonly (infer E)[]
    ? Camelized<E>[]
    : T extends object
      ? { [K in keyof T & string as Camel<K>]: Camelized<T[K]> }
      : T;

/** The `<x>_param` field of a LayerParameter that nn's parameter key `x` (camelCase) is read from. */
export type ParamField<K extends string> = `${Snake<K>}_param`;

/** The decoded message under nn's parameter key `K`, renamed to camelCase. */
export type DecodedParams<K extends string> = Camelized<NonNullable<LayerParameter[ParamField<K>]>>;

type AllKeys<T> = T extends unknown ? keyof T : never;
type ValueAt<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;

/**
 * What a file may hold for a value nn takes: a union of string names widens to any string (the
 * layer checks the name when it is built: a file may name a pool method nn lacks), a union of
 * objects (the fillers) to one object with all their fields.
 */
type FileForm<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer E)[]
        ? FileForm<E>[]
        : T extends object
          ? { [K in AllKeys<T>]?: FileForm<Exclude<ValueAt<T, K>, undefined>> }
          : T;

/** Why a decoded message `S` cannot feed nn's parameters `P` of layer type `T`, or never. */
type Mismatch<T extends string, S, P> = [Exclude<AllKeys<P>, keyof S>] extends [never]
  ? S extends FileForm<P>
    ? never
    : `${T}: the schema types a field differently from nn`
  : `${T}: the schema has no field for nn's ${Exclude<AllKeys<P>, keyof S> & string}`;

/** Every disagreement between the schema and nn, over every layer type nn builds and each of its parameter keys. */
type Disagreements = {
  [T in LayerType]: {
    [K in keyof LayerParamsByType[T] & string]-?: Mismatch<T, DecodedParams<K>, NonNullable<LayerParamsByType[T][K]>>;
  }[keyof LayerParamsByType[T] & string];
}[LayerType];

/** Accepts `never` only: instantiated with the disagreements, a compile error that shows them. */
type NoneOf<T extends never> = T;

/**
 * The check that keeps the two descriptions one: a compile error naming the layer type and the
 * field wherever the schema and nn's parameter types disagree.
 */
export type SchemaMatchesNn = NoneOf<Disagreements>;
