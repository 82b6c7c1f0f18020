/*
 * The part of convnetjs 0.3 (CommonJS, no types of its own) that the peers suite drives by hand.
 * Volumes are stored w[((sx * y) + x) * depth + d]: height, width, channels (HWC), in float64.
 */
declare module 'convnetjs' {
  namespace convnetjs {
    /** A width (sx) x height (sy) x depth volume; filled with `c`, or random values without it. */
    class Vol {
      constructor(sx: number, sy: number, depth: number, c?: number);
      sx: number;
      sy: number;
      depth: number;
      w: Float64Array;
    }

    /** Input size of a layer: width, height, channels. */
    interface InputSize {
      in_sx: number;
      in_sy: number;
      in_depth: number;
    }

    interface Layer {
      forward(V: Vol, isTraining?: boolean): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
    }

    /** Convolution; `filters` holds one sx x sy x in_depth Vol per output channel, `biases` is 1 x 1 x filters. */
    class ConvLayer implements Layer {
      constructor(options: InputSize & { sx: number; filters: number; stride: number; pad: number });
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
      filters: Vol[];
      biases: Vol;
    }

    /** Fully connected; `filters` holds one 1 x 1 x (in_sx * in_sy * in_depth) Vol per output, in the input's HWC order. */
    class FullyConnLayer implements Layer {
      constructor(options: InputSize & { num_neurons: number });
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
      filters: Vol[];
      biases: Vol;
    }

    /** Max pooling, sizes rounded down. */
    class PoolLayer implements Layer {
      constructor(options: InputSize & { sx: number; stride: number });
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
    }

    /** Across channels: x / (k + alpha / n * sum of squares over n channels) ^ beta, as Caffe. */
    class LocalResponseNormalizationLayer implements Layer {
      constructor(options: InputSize & { k: number; n: number; alpha: number; beta: number });
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
    }

    class ReluLayer implements Layer {
      constructor(options: InputSize);
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
    }

    class SoftmaxLayer implements Layer {
      constructor(options: InputSize);
      forward(V: Vol): Vol;
      out_sx: number;
      out_sy: number;
      out_depth: number;
    }
  }
  export = convnetjs;
}
