export { gradCam, lastConvolution, defaultScoreBlob, type GradCamResult, type GradCamOptions } from './grad-cam.js';
export { occlusionMap, type OcclusionOptions } from './occlusion.js';
export { overlaySaliency, saliencyPng, heatColour } from './overlay.js';
export { resizeMap, mapCorrelation, type SaliencyMap } from './map.js';
export { SaliencyError } from './errors.js';
