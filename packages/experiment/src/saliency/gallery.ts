import type { Net } from '@cnn/nn';
import { resize, toNetInput, type InputRecipe, type StoredImage } from '../data/index.js';
import { pngDataUri, type SaliencyEntry } from '../report/index.js';
import { gradCam, lastConvolution } from './grad-cam.js';
import { saliencyPng } from './overlay.js';

/** Side of the overlays written for the report (the stored images are shrunk to it first). */
const OVERLAY_SIDE = 128;

/** One test image to explain: its row in `images`, its name, true and predicted class. */
export interface SaliencyCase {
  row: number;
  path: string;
  truth: number;
  predicted: number;
}

/**
 * Grad-CAM overlays for the report: every case explained for the class the network
 * predicted, at the classifier's last convolution, laid over the image as stored (gray,
 * shrunk to 128 x 128). Returns the report entries (files named `saliency-NNN-<image>.png`), the PNG
 * bytes by file name, and `data:` URIs by image path for the HTML.
 */
export function saliencyGallery(
  net: Net,
  images: readonly StoredImage[],
  cases: readonly SaliencyCase[],
  recipe: InputRecipe,
  classes: readonly string[],
): { entries: SaliencyEntry[]; files: Record<string, Uint8Array>; uris: Record<string, string>; layer: string } {
  const layer = lastConvolution(net);
  const entries: SaliencyEntry[] = [];
  const files: Record<string, Uint8Array> = {};
  const uris: Record<string, string> = {};
  cases.forEach((c, k) => {
    const image = images[c.row]!;
    const cam = gradCam(net, toNetInput(image, recipe), layer, c.predicted);
    const png = saliencyPng(resize(image, OVERLAY_SIDE, OVERLAY_SIDE), cam);
    const file = `saliency-${String(k + 1).padStart(3, '0')}-${c.path.replace(/\.[A-Za-z0-9]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(-80)}.png`;
    files[file] = png;
    uris[c.path] = pngDataUri(png);
    entries.push({ path: c.path, class: classes[c.predicted]!, file });
  });
  return { entries, files, uris, layer };
}
