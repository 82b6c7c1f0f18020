import { defineKernels } from '@cnn/tensor';
import { updateParameterFast } from './fast.js';
import { updateParameterReference } from './reference.js';
import { updateParameterWasm } from './wasm.js';

export { updateParameterReference, type UpdateConstants, type UpdateRule } from './reference.js';

/** The solver's update of one parameter by backend: (w, g, v, s, count, constants). */
export const { updateParameter } = defineKernels({
  updateParameter: { reference: updateParameterReference, js: updateParameterFast, wasm: updateParameterWasm },
});
