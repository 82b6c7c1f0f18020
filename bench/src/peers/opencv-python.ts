import { spawnSync } from 'node:child_process';

/** The Python that runs the OpenCV peer and OpenCV's version there, once found. */
let found: { python: string; version: string } | undefined;

/**
 * A Python that can import cv2: $CNN_PYTHON, else python3 on the PATH, else Debian's
 * /usr/bin/python3 (where python3-opencv installs it; a pyenv python3 earlier on the PATH
 * does not see it). Undefined when none can.
 */
export function openCvPython(): { python: string; version: string } | undefined {
  if (found) return found;
  for (const python of [process.env.CNN_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!python) continue;
    const probe = spawnSync(python, ['-c', 'import cv2; print(cv2.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) {
      found = { python, version: probe.stdout.trim() };
      return found;
    }
  }
  return undefined;
}
