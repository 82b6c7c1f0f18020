import { Rng } from '@cnn/tensor';

/*
 * Ultrasound-like phantoms for the synthetic demo: a convex-probe sector over tissue
 * with multiplicative speckle, depth attenuation with the study's gain, rib shadows,
 * and an organ drawn schematically. They are clearly not patient images; they let the
 * whole experiment run with no external files, and they are meant to be hard in the
 * ways real scans are: every study (a patient on a machine setting) looks different
 * (gain, depth, attenuation, speckle size, where the organ sits, which ribs shadow it),
 * frames of one study are alike, views are often partial, and every class shares the
 * same clutter (vessels, cysts, the diaphragm). What tells the classes apart is the
 * organ's shape and inner structure, not its brightness.
 */

/** The phantom classes: abdominal views, schematically. */
export const PHANTOM_CLASSES = ['gallbladder', 'kidney', 'liver', 'spleen'] as const;
export type PhantomClass = (typeof PHANTOM_CLASSES)[number];

const SIZE = 256;
const APEX = { x: 128, y: -30 };
const SECTOR = { inner: 45, outer: 300, halfAngle: 0.75 };

/** What varies from one study (one simulated patient and machine setting) to the next. */
export interface StudyLook {
  gain: number;
  attenuation: number;
  /** Depth setting: how large organs and speckle appear (a deeper setting shrinks them). */
  zoom: number;
  shiftX: number;
  shiftY: number;
  angle: number;
  /** Speckle grain: the radius of the smoothing of the Rayleigh noise (1 or 2 pixels). */
  grain: number;
  /** Angles (from the probe's axis) of the ribs' acoustic shadows, and their widths. */
  shadows: { angle: number; width: number }[];
  /** Tissue brightness between organs. */
  background: number;
}

/** A study's look, drawn from its generator. */
export function studyLook(rng: Rng): StudyLook {
  return {
    gain: rng.uniform(0.65, 1.35),
    attenuation: rng.uniform(0.4, 2),
    zoom: rng.uniform(0.7, 1.3),
    shiftX: rng.uniform(-35, 35),
    shiftY: rng.uniform(-25, 30),
    angle: rng.uniform(-0.6, 0.6),
    grain: 1 + rng.int(2),
    shadows: Array.from({ length: rng.int(3) }, () => ({ angle: rng.uniform(-0.65, 0.65), width: rng.uniform(0.04, 0.1) })),
    background: rng.uniform(0.35, 0.55),
  };
}

/** u, v: (x, y) relative to (cx, cy) in a frame rotated by `angle` and scaled by `s`. */
function local(x: number, y: number, cx: number, cy: number, angle: number, s: number): [number, number] {
  const dx = (x - cx) / s;
  const dy = (y - cy) / s;
  return [dx * Math.cos(angle) + dy * Math.sin(angle), -dx * Math.sin(angle) + dy * Math.cos(angle)];
}

/** Distance from (x, y) to the segment (x1, y1)-(x2, y2). */
function segmentDistance(x: number, y: number, x1: number, y1: number, x2: number, y2: number): number {
  const vx = x2 - x1;
  const vy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((x - x1) * vx + (y - y1) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(x - x1 - t * vx, y - y1 - t * vy);
}

/** A smooth random field in [-1, 1]: a coarse grid of random values, bilinearly interpolated. */
function smoothField(rng: Rng, cells: number): (x: number, y: number) => number {
  const grid = Float32Array.from({ length: (cells + 1) * (cells + 1) }, () => rng.uniform(-1, 1));
  return (x, y) => {
    const gx = Math.min(cells - 1e-6, Math.max(0, (x / SIZE) * cells));
    const gy = Math.min(cells - 1e-6, Math.max(0, (y / SIZE) * cells));
    const x0 = Math.floor(gx);
    const y0 = Math.floor(gy);
    const fx = gx - x0;
    const fy = gy - y0;
    const at = (i: number, j: number) => grid[j * (cells + 1) + i]!;
    return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
  };
}

/** Vessels: dark tubes, with bright walls when `walls` (the liver's portal veins). */
function vessels(rng: Rng, count: number, walls: boolean): (x: number, y: number) => number | undefined {
  const list = Array.from({ length: count }, () => {
    const a = rng.uniform(0, Math.PI);
    const x0 = rng.uniform(40, 216);
    const y0 = rng.uniform(60, 230);
    const half = rng.uniform(25, 70);
    return { x1: x0 - half * Math.cos(a), y1: y0 - half * Math.sin(a), x2: x0 + half * Math.cos(a), y2: y0 + half * Math.sin(a), width: rng.uniform(2.5, 6) };
  });
  return (x, y) => {
    for (const v of list) {
      const d = segmentDistance(x, y, v.x1, v.y1, v.x2, v.y2);
      if (d < v.width) return 0.06;
      if (walls && d < v.width + 2) return 0.95;
    }
    return undefined;
  };
}

/**
 * The echogenicity map (about 0-1) of one view, before speckle: the organ placed with
 * the study's shift, angle and zoom and the frame's jitter, over tissue with clutter.
 */
function echogenicity(kind: PhantomClass, look: StudyLook, rng: Rng): (x: number, y: number) => number {
  // A partial view: now and then the organ sits half out of the sector.
  const partial = rng.bernoulli(0.3) ? rng.uniform(45, 75) * (rng.bernoulli(0.5) ? 1 : -1) : 0;
  const cx = 128 + look.shiftX + partial + rng.uniform(-10, 10);
  const cy = 135 + look.shiftY + rng.uniform(-10, 10);
  const s = look.zoom * rng.uniform(0.9, 1.1);
  const angle = look.angle + rng.uniform(-0.2, 0.2);
  const texture = smoothField(rng, 6);
  const clutter = vessels(rng, 1 + rng.int(3), false);
  const cyst = { x: rng.uniform(40, 216), y: rng.uniform(90, 230), r: rng.uniform(4, 10), shown: rng.bernoulli(0.4) };
  const diaphragm = rng.bernoulli(0.5) ? { cy: rng.uniform(-80, 20), r: rng.uniform(170, 230) } : undefined;
  const tissue = (x: number, y: number): number => {
    if (diaphragm) {
      const d = Math.abs(Math.hypot(x - 128, y - diaphragm.cy) - diaphragm.r);
      if (d < 3) return 1;
    }
    if (cyst.shown && Math.hypot(x - cyst.x, y - cyst.y) < cyst.r) return 0.04;
    return clutter(x, y) ?? look.background * (1 + 0.25 * texture(x, y));
  };
  switch (kind) {
    case 'liver': {
      // Liver fills the view: homogeneous parenchyma with portal veins (bright walls) and hepatic veins.
      const portal = vessels(rng, 3 + rng.int(3), true);
      const hepatic = vessels(rng, 1 + rng.int(2), false);
      const edge = rng.uniform(160, 250);
      return (x, y) => {
        const [u, v] = local(x, y, cx, cy, angle, s);
        if (v * 0.6 + u * 0.3 > edge - 135) return tissue(x, y);
        return portal(x, y) ?? hepatic(x, y) ?? (0.5 + 0.1 * texture(x, y)) * (look.background / 0.45);
      };
    }
    case 'kidney': {
      const lobes = Array.from({ length: 5 }, (_, k) => ({ a: (k / 5) * 2 * Math.PI + rng.uniform(-0.3, 0.3), r: rng.uniform(0.45, 0.6) }));
      return (x, y) => {
        const [u, v] = local(x, y, cx, cy, angle, s);
        const r = (u * u) / (70 * 70) + (v * v) / (36 * 36);
        if (r > 1.18) return tissue(x, y);
        if (r > 1) return 0.65; // brighter perirenal fat
        // The sinus: a bright, irregular centre; around it darker pyramids in the cortex.
        const theta = Math.atan2(v / 36, u / 70);
        const sinus = 0.28 + 0.08 * Math.cos(3 * theta + lobes[0]!.a);
        if (r < sinus) return 0.7;
        const pyramid = lobes.some((l) => Math.abs(Math.atan2(Math.sin(theta - l.a), Math.cos(theta - l.a))) < 0.25 && Math.abs(Math.sqrt(r) - l.r) < 0.12);
        return pyramid ? 0.2 : 0.32;
      };
    }
    case 'gallbladder': {
      const stone = rng.bernoulli(0.3) ? rng.uniform(-20, 20) : undefined;
      return (x, y) => {
        const [u, v] = local(x, y, cx, cy, angle, s);
        // A pear: wider at the fundus (u > 0) than at the neck.
        const halfWidth = 22 + 8 * Math.tanh(u / 25);
        const r = (u * u) / (55 * 55) + (v * v) / (halfWidth * halfWidth);
        if (stone !== undefined && Math.hypot(u - stone, v - halfWidth * 0.6) < 6) return 1;
        if (r < 1) return 0.03; // anechoic bile
        if (r < 1.2) return 0.75; // wall
        // Posterior acoustic enhancement below the bile, and a shadow below a stone.
        const below = y > cy && Math.abs(x - cx) < 40 * s;
        if (stone !== undefined && below && Math.abs(x - (cx + stone * s)) < 6 * s) return 0.05;
        return tissue(x, y) * (below ? 1.45 : 1);
      };
    }
    case 'spleen':
      return (x, y) => {
        const [u, v] = local(x, y, cx, cy, angle, s);
        const outer = Math.hypot(u, v + 60) < 115;
        const inner = Math.hypot(u - 35, v + 95) < 105;
        if (outer && !inner) {
          const capsule = Math.abs(Math.hypot(u, v + 60) - 115) < 2.5;
          return capsule ? 0.75 : (0.55 + 0.05 * texture(x, y)) * (look.background / 0.45);
        }
        return tissue(x, y);
      };
  }
}

/**
 * One 256 x 256 8-bit phantom of class `kind` for a study: sector mask, organ map,
 * multiplicative Rayleigh speckle smoothed over the study's grain, rib shadows, and
 * exponential depth attenuation under the study's gain.
 */
export function renderPhantom(kind: PhantomClass, look: StudyLook, rng: Rng): Uint8Array {
  const map = echogenicity(kind, look, rng);
  const speckle = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < speckle.length; i++) speckle[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) * 0.8;
  const shadows = look.shadows.map((shadow) => ({ ...shadow, angle: shadow.angle + rng.uniform(-0.05, 0.05) }));
  const image = new Uint8Array(SIZE * SIZE);
  const g = look.grain;
  const cells = (2 * g + 1) * (2 * g + 1);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const radius = Math.hypot(x - APEX.x, y - APEX.y);
      const angle = Math.atan2(x - APEX.x, y - APEX.y);
      if (radius < SECTOR.inner || radius > SECTOR.outer || Math.abs(angle) > SECTOR.halfAngle) continue;
      let grain = 0;
      for (let dy = -g; dy <= g; dy++) for (let dx = -g; dx <= g; dx++) grain += speckle[Math.min(SIZE - 1, Math.max(0, y + dy)) * SIZE + Math.min(SIZE - 1, Math.max(0, x + dx))]!;
      const depth = (radius - SECTOR.inner) / (SECTOR.outer - SECTOR.inner);
      const shadowed = shadows.some((shadow) => Math.abs(angle - shadow.angle) < shadow.width && radius > 90);
      const value = 255 * look.gain * map(x, y) * (grain / cells) * Math.exp(-look.attenuation * depth) * (shadowed ? 0.2 : 1);
      image[y * SIZE + x] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return image;
}
