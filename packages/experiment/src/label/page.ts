/**
 * The labeller's page: one HTML document, its stylesheet and its script, served from these
 * strings so the package needs no asset copying at build time. The script is plain browser
 * JavaScript (no build step, no framework); it only ever puts data into the page as text
 * (`textContent`), never as HTML, since file names and class names come from the user's files.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cnn label</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body data-pending="0">
<header>
  <strong id="mode">cnn label</strong>
  <div id="progress"><div id="bar"><span id="fill"></span></div><span id="done">loading...</span></div>
  <div id="counts"></div>
</header>
<main>
  <section id="viewer" title="wheel: zoom, drag: pan, shift+drag or right-drag: window (level up/down, width left/right)">
    <canvas id="canvas" width="1" height="1"></canvas>
    <div id="finished" hidden></div>
  </section>
  <aside>
    <div id="meta">
      <div id="name"></div>
      <div id="study"></div>
      <div id="hint"></div>
    </div>
    <div id="classes" role="group" aria-label="classes"></div>
    <div class="row" id="nav">
      <button id="back" title="previous image (Left arrow)">&larr; Back</button>
      <button id="skip" title="leave unlabelled, go to the next unlabelled image (Space)">Skip</button>
      <button id="forward" title="next image (Right arrow)">Forward &rarr;</button>
      <button id="undo" title="undo the last label (Backspace or Ctrl+Z)">Undo</button>
    </div>
    <div id="view">
      <div class="row">
        <button id="zoom-out" title="zoom out (-)">&minus;</button>
        <span id="zoom">100%</span>
        <button id="zoom-in" title="zoom in (+)">+</button>
        <button id="reset" title="reset zoom and window (0)">Reset</button>
      </div>
      <label>Level <input id="level" type="range" min="0" max="255" step="1" value="128"></label>
      <label>Width <input id="width" type="range" min="1" max="512" step="1" value="255"></label>
    </div>
    <div id="status" role="status"></div>
    <details>
      <summary>Keys</summary>
      <p><kbd>1</kbd>-<kbd>9</kbd>, then letters: the class on the button.
      <kbd>&larr;</kbd> <kbd>&rarr;</kbd> back and forward, <kbd>Space</kbd> skip,
      <kbd>Backspace</kbd> undo, <kbd>Enter</kbd> take the model's suggestion, <kbd>+</kbd> <kbd>-</kbd> zoom, <kbd>0</kbd> reset the view.
      Every label is saved to the file the moment it is given.</p>
    </details>
  </aside>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
:root { color-scheme: dark; --bg: #111418; --panel: #1b2027; --line: #2c333d; --text: #e6e9ee; --dim: #98a2b3; --accent: #4da3ff; --ok: #3ecf8e; --bad: #ff6b6b; }
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 16px; padding: 8px 14px; background: var(--panel); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
#progress { display: flex; align-items: center; gap: 8px; }
#bar { width: 180px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; }
#fill { display: block; height: 100%; width: 0; background: var(--ok); }
#counts { display: flex; gap: 6px; flex-wrap: wrap; color: var(--dim); }
#counts span { background: var(--bg); border: 1px solid var(--line); border-radius: 10px; padding: 0 8px; }
main { flex: 1; display: flex; min-height: 0; }
#viewer { flex: 1; position: relative; overflow: hidden; background: #000; cursor: grab; }
#viewer.dragging { cursor: grabbing; }
#canvas { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#finished { position: absolute; inset: auto 0 24px 0; margin: auto; width: fit-content; padding: 10px 16px; background: var(--panel); border: 1px solid var(--ok); border-radius: 6px; }
aside { width: 340px; padding: 12px; background: var(--panel); border-left: 1px solid var(--line); display: flex; flex-direction: column; gap: 12px; overflow-y: auto; }
#name { font-weight: 600; word-break: break-all; }
#study, #hint { color: var(--dim); }
#hint .a, #hint .b { color: var(--text); }
#classes { display: grid; grid-template-columns: 1fr; gap: 6px; }
button { font: inherit; color: var(--text); background: #252c35; border: 1px solid var(--line); border-radius: 5px; padding: 6px 10px; cursor: pointer; }
button:hover { border-color: var(--accent); }
button:disabled { opacity: 0.4; cursor: default; }
#classes button { text-align: left; display: flex; align-items: center; gap: 8px; }
#classes button.current { background: #17406b; border-color: var(--accent); }
#classes button.proposed { border-style: dashed; border-color: #d7a13b; }
#classes button.suggested { border-style: dashed; border-color: #b48cff; }
#suggestion { color: #c9b2ff; }
kbd { display: inline-block; min-width: 1.5em; text-align: center; font: 12px ui-monospace, monospace; background: var(--bg); border: 1px solid var(--line); border-radius: 3px; padding: 0 4px; }
.row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#view label { display: flex; justify-content: space-between; align-items: center; gap: 8px; color: var(--dim); }
#view input { flex: 1; }
#status { min-height: 1.4em; color: var(--dim); }
#status.error { color: var(--bad); font-weight: 600; }
details { color: var(--dim); }
`;

export const PAGE_JS = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token') || '';
  const canvas = $('canvas');
  const ctx = canvas.getContext('2d');
  const viewer = $('viewer');

  let run = null;          // the server's snapshot: mode, classes, keys, items
  let pos = 0;             // position of the image on screen
  let pixels = null;       // the image's own RGBA pixels, before windowing
  let loadSeq = 0;         // drops an image that finished loading after the user moved on
  const undoStack = [];    // {index, label, seconds} as they were before each change
  const view = { zoom: 1, panX: 0, panY: 0, level: 127.5, width: 255 };
  // Reader study: seconds each image has been on screen, over all visits.
  const onScreen = new Map();
  let shownSince = null;

  let queue = Promise.resolve();
  let pending = 0;

  function setStatus(text, error) {
    const el = $('status');
    el.textContent = text;
    el.classList.toggle('error', !!error);
  }

  /** Sends one change; changes go out one after another, so an undo never overtakes its label. */
  function post(body) {
    pending++;
    document.body.dataset.pending = String(pending);
    setStatus('saving...');
    const sent = queue.then(async () => {
      const res = await fetch('/api/label', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Label-Token': token },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(answer.error || res.statusText);
      return answer;
    });
    queue = sent.catch(() => undefined);
    return sent.then(
      (answer) => { done(); setStatus('saved (' + answer.done + ' labelled)'); return answer; },
      (error) => { done(); setStatus('NOT SAVED: ' + error.message, true); throw error; },
    );
  }
  function done() {
    pending--;
    document.body.dataset.pending = String(pending);
  }

  async function refresh(keepPosition) {
    const res = await fetch('/api/state', { headers: { 'X-Label-Token': token } });
    if (res.status === 403) throw new Error('open the address that cnn label printed (it carries the token)');
    run = await res.json();
    if (!keepPosition) pos = Math.max(0, nextUnlabelled(-1));
    buildButtons();
    show();
  }

  /** An image's address with the token: an <img> cannot send the header. */
  function withToken(url) {
    return url + '?token=' + encodeURIComponent(token);
  }

  function nextUnlabelled(from) {
    const n = run.items.length;
    for (let k = 1; k <= n; k++) {
      const i = (from + k) % n;
      if (run.items[i].label === null && i !== from) return i;
    }
    return -1;
  }

  function buildButtons() {
    const box = $('classes');
    box.replaceChildren();
    run.classes.forEach((name, i) => {
      const button = document.createElement('button');
      button.dataset.index = String(i);
      const key = run.keys[i];
      if (key) {
        const kbd = document.createElement('kbd');
        kbd.textContent = key;
        button.append(kbd);
      }
      button.append(document.createTextNode(name));
      button.addEventListener('click', () => assign(i));
      box.append(button);
    });
    const titles = { label: 'Labelling', reader: 'Reader study', review: 'Review of disagreements' };
    $('mode').textContent = titles[run.mode] + (run.title ? ' \\u2014 ' + run.title : '');
    document.title = titles[run.mode] + ' \\u2014 cnn label';
  }

  function show() {
    const items = run.items;
    const item = items[pos];
    const labelled = items.filter((it) => it.label !== null).length;
    $('done').textContent = labelled + ' / ' + items.length + ' done';
    $('fill').style.width = (100 * labelled / Math.max(1, items.length)) + '%';
    const counts = $('counts');
    counts.replaceChildren();
    // A reader sees no tally: counts per class would hint at the mix of the test set.
    if (run.mode !== 'reader') {
      run.classes.forEach((name) => {
        const chip = document.createElement('span');
        chip.textContent = name + ' ' + items.filter((it) => it.label === name).length;
        counts.append(chip);
      });
    }
    const finished = $('finished');
    finished.hidden = labelled < items.length;
    finished.textContent = 'All ' + items.length + ' images labelled; the labels are saved. You may close this tab.';

    $('name').textContent = run.mode === 'reader' ? 'Image ' + (pos + 1) + ' of ' + items.length : item.name;
    if (run.mode === 'reader') $('study').textContent = '';
    else {
      const same = items.filter((it) => it.study === item.study);
      $('study').textContent = 'study ' + item.study + ' \\u00b7 image ' + (same.indexOf(item) + 1) + ' of ' + same.length + ' \\u00b7 #' + (pos + 1) + ' of ' + items.length;
    }
    const hint = $('hint');
    hint.replaceChildren();
    if (item.review) {
      for (const side of ['a', 'b']) {
        const line = document.createElement('div');
        const value = document.createElement('span');
        value.className = side;
        value.textContent = item.review[side].label;
        line.append(side.toUpperCase() + (item.review[side].labeller ? ' (' + item.review[side].labeller + ')' : '') + ': ', value);
        hint.append(line);
      }
    } else if (item.sourceLabel) {
      hint.textContent = 'source label: ' + item.sourceLabel;
    }
    // The model's guess (cnn label --model), never sent in a reader study; Enter takes it.
    if (item.suggestion) {
      const line = document.createElement('div');
      line.id = 'suggestion';
      line.textContent = 'model suggests: ' + item.suggestion.label + ' (' + (100 * item.suggestion.confidence).toFixed(1) + '%) \u00b7 Enter takes it';
      hint.append(line);
    }
    for (const button of $('classes').children) {
      const name = run.classes[Number(button.dataset.index)];
      button.classList.toggle('current', item.label === name);
      button.classList.toggle('proposed', !!item.review && (item.review.a.label === name || item.review.b.label === name));
      button.classList.toggle('suggested', !!item.suggestion && item.suggestion.label === name);
    }
    $('back').disabled = pos === 0;
    $('forward').disabled = pos >= items.length - 1;
    $('undo').disabled = undoStack.length === 0;
    loadImage(item);
  }

  function loadImage(item) {
    const seq = ++loadSeq;
    const img = new Image();
    img.onload = () => {
      if (seq !== loadSeq) return;
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      ctx.drawImage(img, 0, 0);
      pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      render();
      fit();
      startClock();
      document.body.dataset.shown = String(item.index);
    };
    img.onerror = () => { if (seq === loadSeq) setStatus('cannot show this image (the server refused or could not decode it)', true); };
    img.src = withToken(item.image);
    // Warm the cache with the next image so labelling never waits on it.
    const next = run.items[pos + 1];
    if (next) new Image().src = withToken(next.image);
  }

  /** Window level / width: v -> (v - (level - width/2)) / width, as a 256-entry table applied to R, G and B. */
  function render() {
    if (!pixels) return;
    const lut = new Uint8ClampedArray(256);
    const low = view.level - view.width / 2;
    for (let v = 0; v < 256; v++) lut[v] = Math.round(255 * (v - low) / view.width);
    const src = pixels.data;
    const out = new ImageData(pixels.width, pixels.height);
    for (let i = 0; i < src.length; i += 4) {
      out.data[i] = lut[src[i]];
      out.data[i + 1] = lut[src[i + 1]];
      out.data[i + 2] = lut[src[i + 2]];
      out.data[i + 3] = 255;
    }
    ctx.putImageData(out, 0, 0);
    $('level').value = String(Math.round(view.level));
    $('width').value = String(Math.round(view.width));
  }

  /** Scales the image to fill the viewer at zoom 1 (images are small: 256 pixels in the study), centred, then pans. */
  function fit() {
    const w = viewer.clientWidth, h = viewer.clientHeight;
    const base = Math.min(w / canvas.width, h / canvas.height);
    const scale = base * view.zoom;
    const x = (w - canvas.width * scale) / 2 + view.panX;
    const y = (h - canvas.height * scale) / 2 + view.panY;
    canvas.style.transform = 'translate(' + x + 'px,' + y + 'px) scale(' + scale + ')';
    $('zoom').textContent = Math.round(view.zoom * 100) + '%';
  }

  function zoomBy(factor) {
    view.zoom = Math.min(16, Math.max(0.25, view.zoom * factor));
    fit();
  }
  function resetView() {
    Object.assign(view, { zoom: 1, panX: 0, panY: 0, level: 127.5, width: 255 });
    render();
    fit();
  }

  function startClock() {
    shownSince = document.hidden ? null : performance.now();
  }
  /** Adds the time since the image appeared to its total (reader study); called whenever it leaves the screen. */
  function stopClock() {
    if (shownSince === null || !run) return;
    const index = run.items[pos].index;
    onScreen.set(index, (onScreen.get(index) || 0) + (performance.now() - shownSince) / 1000);
    shownSince = null;
  }

  function go(to) {
    if (to < 0 || to >= run.items.length || to === pos) return;
    stopClock();
    pos = to;
    show();
  }

  function assign(classIndex) {
    if (!run) return;
    const item = run.items[pos];
    const label = run.classes[classIndex];
    stopClock();
    const seconds = run.mode === 'reader' ? Math.round((onScreen.get(item.index) || 0) * 1000) / 1000 : undefined;
    const before = { index: item.index, label: item.label, seconds: item.seconds };
    undoStack.push(before);
    // Shown at once and sent in order; a failed save puts the old label back and says so.
    item.label = label;
    if (seconds !== undefined) item.seconds = seconds;
    post({ index: item.index, label, seconds }).catch(() => {
      item.label = before.label;
      item.seconds = before.seconds;
      undoStack.splice(undoStack.indexOf(before), 1);
      show();
    });
    const next = nextUnlabelled(pos);
    if (next >= 0) pos = next;
    show();
  }

  function undo() {
    const before = undoStack.pop();
    if (!before) return;
    const item = run.items[before.index];
    stopClock();
    item.label = before.label;
    item.seconds = before.seconds;
    post({ index: before.index, label: before.label, seconds: before.seconds === null ? undefined : before.seconds }).catch(() => refresh(true));
    pos = before.index;
    show();
  }

  function skip() {
    const next = nextUnlabelled(pos);
    go(next >= 0 ? next : Math.min(pos + 1, run.items.length - 1));
  }

  $('back').addEventListener('click', () => go(pos - 1));
  $('forward').addEventListener('click', () => go(pos + 1));
  $('skip').addEventListener('click', skip);
  $('undo').addEventListener('click', undo);
  $('zoom-in').addEventListener('click', () => zoomBy(1.25));
  $('zoom-out').addEventListener('click', () => zoomBy(0.8));
  $('reset').addEventListener('click', resetView);
  for (const id of ['level', 'width']) {
    $(id).addEventListener('input', (event) => { view[id] = Number(event.target.value); render(); });
    // Give the keyboard back to labelling: a focused slider would eat the arrow keys.
    $(id).addEventListener('change', (event) => event.target.blur());
  }

  document.addEventListener('keydown', (event) => {
    if (!run || event.altKey) return;
    const key = event.key;
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === 'z') { event.preventDefault(); undo(); return; }
    if (event.ctrlKey || event.metaKey) return;
    if (key === 'ArrowLeft') go(pos - 1);
    else if (key === 'ArrowRight') go(pos + 1);
    else if (key === ' ') skip();
    else if (key === 'Backspace') undo();
    else if (key === '+' || key === '=') zoomBy(1.25);
    else if (key === '-') zoomBy(0.8);
    else if (key === '0') resetView();
    else if (key === 'Enter' && run.items[pos].suggestion) assign(run.classes.indexOf(run.items[pos].suggestion.label));
    else {
      const i = run.keys.indexOf(key.toLowerCase());
      if (i < 0) return;
      assign(i);
    }
    event.preventDefault();
  });

  viewer.addEventListener('wheel', (event) => { event.preventDefault(); zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1); }, { passive: false });
  viewer.addEventListener('contextmenu', (event) => event.preventDefault());
  let drag = null;
  viewer.addEventListener('pointerdown', (event) => {
    drag = { x: event.clientX, y: event.clientY, windowing: event.shiftKey || event.button === 2 };
    viewer.classList.add('dragging');
    viewer.setPointerCapture(event.pointerId);
  });
  viewer.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    drag.x = event.clientX;
    drag.y = event.clientY;
    if (drag.windowing) {
      // As on a radiology workstation: up/down moves the level, left/right widens or narrows the window.
      view.level = Math.min(255, Math.max(0, view.level - dy));
      view.width = Math.min(512, Math.max(1, view.width + dx));
      render();
    } else {
      view.panX += dx;
      view.panY += dy;
      fit();
    }
  });
  viewer.addEventListener('pointerup', () => { drag = null; viewer.classList.remove('dragging'); });
  window.addEventListener('resize', fit);
  // A clicked button keeps the focus, and Space on a focused button would click it again.
  document.addEventListener('click', (event) => { const button = event.target.closest('button'); if (button) button.blur(); });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stopClock();
    else {
      startClock();
      // Another tab may have labelled images meanwhile.
      if (pending === 0) refresh(true).catch(() => undefined);
    }
  });

  refresh(false).catch((error) => setStatus('cannot reach the labeller: ' + error.message, true));
})();
`;
