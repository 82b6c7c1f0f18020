import { Rng } from '@cnn/tensor';

/*
 * Ultrasound-like phantoms for the synthetic demo: a convex-probe sector, tissue of
 * some echogenicity, organ shapes, speckle and depth attenuation. They are clearly
 * not patient images; they only let the whole experiment run with no external files.
 */

/** The phantom classes: abdominal views, schematically. */
export const PHANTOM_CLASSES = ['gallbladder', 'kidney', 'liver', 'spleen'] as const;

const SIZE = 256;

/** What varies from one study (one simulated patient and machine setting) to the next. */
export interface StudyLook {
  gain: number;
  attenuation: number;
  shiftX: number;
  shiftY: number;
  scale: number;
}

/** A study's look, drawn from its seed. */
export function studyLook(rng: Rng): StudyLook {
  return { gain: rng.uniform(0.8, 1.2), attenuation: rng.uniform(0.6, 1.6), shiftX: rng.uniform(-20, 20), shiftY: rng.uniform(-15, 15), scale: rng.uniform(0.85, 1.15) };
}

/** Is (x, y) inside an ellipse centred at (cx, cy) with half-axes a, b, rotated by angle? */
function inEllipse(x: number, y: number, cx: number, cy: number, a: number, b: number, angle: number): number {
  const dx = x - cx;
  const dy = y - cy;
  const u = dx * Math.cos(angle) + dy * Math.sin(angle);
  const v = -dx * Math.sin(angle) + dy * Math.cos(angle);
  return (u * u) / (a * a) + (v * v) / (b * b);
}

/** Distance from (x, y) to the segment (x1, y1)-(x2, y2). */
function segmentDistance(x: number, y: number, x1: number, y1: number, x2: number, y2: number): number {
  const vx = x2 - x1;
  const vy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((x - x1) * vx + (y - y1) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(x - x1 - t * vx, y - y1 - t * vy);
}

/**
 * The echogenicity map (0-1) of one phantom view, before speckle: what the organ
 * looks like, placed with the study's shift and scale and the image's jitter.
 */
function echogenicity(kind: (typeof PHANTOM_CLASSES)[number], look: StudyLook, rng: Rng): (x: number, y: number) => number {
  const cx = 128 + look.shiftX + rng.uniform(-8, 8);
  const cy = 140 + look.shiftY + rng.uniform(-8, 8);
  const s = look.scale * rng.uniform(0.92, 1.08);
  const angle = rng.uniform(-0.5, 0.5);
  switch (kind) {
    case 'liver': {
      const vessels = Array.from({ length: 2 + rng.int(3) }, () => {
        const a = rng.uniform(0, Math.PI);
        const x0 = rng.uniform(60, 196);
        const y0 = rng.uniform(80, 220);
        return { x1: x0 - 60 * Math.cos(a), y1: y0 - 60 * Math.sin(a), x2: x0 + 60 * Math.cos(a), y2: y0 + 60 * Math.sin(a), width: rng.uniform(3, 7) };
      });
      return (x, y) => (vessels.some((v) => segmentDistance(x, y, v.x1, v.y1, v.x2, v.y2) < v.width) ? 0.08 : 0.55);
    }
    case 'kidney':
      return (x, y) => {
        const r = inEllipse(x, y, cx, cy, 75 * s, 40 * s, angle);
        if (r < 0.25) return 0.95; // the bright renal sinus
        if (r < 1) return 0.22; // darker cortex
        return 0.45;
      };
    case 'gallbladder':
      return (x, y) => {
        const r = inEllipse(x, y, cx, cy, 55 * s, 32 * s, angle);
        if (r < 1) return 0.03; // anechoic bile
        if (r < 1.25 && y > cy) return 0.9; // bright back wall
        const behind = Math.abs(x - cx) < 50 * s && y > cy ? 0.2 : 0; // posterior acoustic enhancement
        return 0.45 + behind;
      };
    case 'spleen':
      return (x, y) => {
        const outer = Math.hypot(x - cx, y - cy + 60 * s) < 120 * s;
        const inner = Math.hypot(x - cx - 30 * s, y - cy + 90 * s) < 110 * s;
        return outer && !inner ? 0.65 : 0.2;
      };
  }
}

/**
 * One 256 x 256 8-bit phantom of class `kind` for a study: sector mask, organ map,
 * multiplicative Rayleigh speckle smoothed over 3 x 3, exponential depth attenuation.
 */
export function renderPhantom(kind: (typeof PHANTOM_CLASSES)[number], look: StudyLook, rng: Rng): Uint8Array {
  const map = echogenicity(kind, look, rng);
  const speckle = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < speckle.length; i++) speckle[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) * 0.8;
  const image = new Uint8Array(SIZE * SIZE);
  const apexX = 128;
  const apexY = -30;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const radius = Math.hypot(x - apexX, y - apexY);
      const angle = Math.atan2(x - apexX, y - apexY);
      if (radius < 45 || radius > 300 || Math.abs(angle) > 0.75) continue;
      let grain = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) grain += speckle[Math.min(SIZE - 1, Math.max(0, y + dy)) * SIZE + Math.min(SIZE - 1, Math.max(0, x + dx))]!;
      const depth = (radius - 45) / 255;
      const value = 255 * look.gain * map(x, y) * (grain / 9) * Math.exp(-look.attenuation * depth * 0.9);
      image[y * SIZE + x] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return image;
}
