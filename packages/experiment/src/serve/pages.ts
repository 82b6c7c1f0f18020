/**
 * The pages of `cnn serve`: HTML shells whose scripts (bundled from packages/experiment/web)
 * fill them. Each loads one module; the library runs in the worker that module starts.
 */

/** The header every page shares: the pages, and the library's backend and threads. */
function shell(title: string, script: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cnn serve: ${title}</title>
<link rel="stylesheet" href="/app/style.css">
<script type="module" src="/app/${script}.js"></script>
</head>
<body>
<header>
  <strong>cnn</strong>
  <nav><a href="/learn" data-keep-query>learn</a> <a href="/classify" data-keep-query>classify</a></nav>
  <label>backend <select id="backend"><option value="wasm">wasm</option><option value="js">js</option></select></label>
  <label>threads <select id="threads"></select></label>
  <span data-testid="engine">starting the engine...</span>
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

export const LEARN_HTML = shell(
  'learn',
  'learn',
  `<section>
  <h2>1. A convolution, one window at a time</h2>
  <p>The Sobel filter for vertical edges slides over the 13 × 12 kidney patch of the walkthroughs. At each
  position the library multiplies the 9 weights with the 9 pixels under them and adds the products: one
  pixel of the output.</p>
  <div class="row">
    <table id="patch" class="numbers"></table>
    <div>
      <h4>filter</h4><pre id="filter"></pre>
      <h4 id="position"></h4><pre id="products"></pre>
      <div class="row"><button id="next">next position</button><input id="step" type="range" min="0" value="0"></div>
    </div>
    <table id="output" class="numbers"></table>
  </div>
</section>
<section>
  <h2>2. A small CNN learning</h2>
  <p>conv 4 × 5×5, ReLU, max pool 2, fully connected 3, softmax loss; SGD on fresh batches of 16 generated
  16 × 16 pictures of a bar (upright, lying or slanted).</p>
  <div class="row">
    <div><h4>loss <span data-testid="loss" id="loss-value">-</span> <small>(last 5 iterations)</small></h4><canvas id="loss-chart" width="360" height="140"></canvas></div>
    <div><h4>training accuracy <span data-testid="accuracy" id="accuracy-value">-</span></h4><canvas id="accuracy-chart" width="360" height="140"></canvas></div>
    <div>
      <p>iteration <span id="iter">0</span>, <span id="speed"></span></p>
      <label>seed <input id="seed" type="number" value="1" min="1"></label> <button id="restart">train again</button>
      <p id="learn-error" class="error"></p>
    </div>
  </div>
  <div class="row">
    <div><h4>conv1 filters</h4><div id="filters" class="planes"></div></div>
    <div><h4>the chosen picture</h4><canvas id="example"></canvas><p id="example-probabilities"></p></div>
  </div>
  <h4>its activations</h4><div id="activations" class="row"></div>
  <h4>what backprop sends back for it (red positive, blue negative)</h4><div id="gradients" class="row"></div>
</section>`,
);

export const CLASSIFY_HTML = shell(
  'classify',
  'classify',
  `<section>
  <h2>Model</h2>
  <p id="model-status">loading...</p>
  <p id="model-error" data-testid="model-error" class="error"></p>
  <div class="row">
    <button id="open-disk">open a prototxt + caffemodel from disk</button>
    <label>input recipe <select id="preset"><option value="caffenet">caffenet (BGR, mean, crop)</option><option value="mobilenet">mobilenet (RGB, (x-128)/128)</option></select></label>
    <span class="dim">choose the .prototxt and the .caffemodel together, and a .txt of class names if you have one</span>
  </div>
</section>
<section id="drop">
  <h2>Images</h2>
  <p>Choose or drop PNG or JPEG images: their top classes, and where the evidence for the first lies (Grad-CAM). Top class: <strong data-testid="top1" id="top1">-</strong> <span id="top1-probability"></span></p>
  <input id="image" type="file" accept="image/png,image/jpeg" multiple>
  <div id="results" class="row"></div>
</section>`,
);
