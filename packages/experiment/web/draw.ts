import type { Plane } from './messages.js';

/*
 * Drawing the library's numbers: maps as pixels, curves as lines. Nothing here computes a
 * value that is shown; it only picks colours and positions.
 */

/**
 * Draws a plane into a canvas, each value a `scale x scale` square. `diverging` colours
 * negative values blue and positive red around 0 (weights, gradients); otherwise the range
 * min..max runs black to white (pictures, activations).
 */
export function drawPlane(canvas: HTMLCanvasElement, plane: Plane, scale: number, diverging: boolean): void {
  canvas.width = plane.width * scale;
  canvas.height = plane.height * scale;
  const context = canvas.getContext('2d')!;
  let low = Infinity;
  let high = -Infinity;
  for (const v of plane.values) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  const extent = Math.max(Math.abs(low), Math.abs(high)) || 1;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      const v = plane.values[y * plane.width + x]!;
      if (diverging) {
        const t = Math.round((Math.abs(v) / extent) * 255);
        context.fillStyle = v >= 0 ? `rgb(255, ${255 - t}, ${255 - t})` : `rgb(${255 - t}, ${255 - t}, 255)`;
      } else {
        const g = Math.round(high > low ? ((v - low) / (high - low)) * 255 : 128);
        context.fillStyle = `rgb(${g}, ${g}, ${g})`;
      }
      context.fillRect(x * scale, y * scale, scale, scale);
    }
  }
}

/** A row of canvases, one per plane, in `container` (replacing what was there). */
export function drawPlanes(container: HTMLElement, planes: readonly Plane[], scale: number, diverging: boolean): void {
  while (container.children.length > planes.length) container.lastElementChild!.remove();
  planes.forEach((plane, i) => {
    const canvas = (container.children[i] as HTMLCanvasElement | undefined) ?? container.appendChild(document.createElement('canvas'));
    drawPlane(canvas, plane, scale, diverging);
  });
}

/** A line chart of `values` (x: index) with the y range `low..high` (default: the values' own). */
export function drawCurve(canvas: HTMLCanvasElement, values: readonly number[], colour: string, range?: [number, number]): void {
  const context = canvas.getContext('2d')!;
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  context.strokeStyle = '#3a4350';
  context.strokeRect(0.5, 0.5, width - 1, height - 1);
  if (values.length < 2) return;
  const low = range?.[0] ?? Math.min(...values);
  const high = range?.[1] ?? Math.max(...values);
  const span = high - low || 1;
  context.strokeStyle = colour;
  context.lineWidth = 1.5;
  context.beginPath();
  values.forEach((v, i) => {
    const x = 4 + (i / (values.length - 1)) * (width - 8);
    const y = height - 4 - ((v - low) / span) * (height - 8);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}
