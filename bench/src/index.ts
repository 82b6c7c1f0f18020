import { browserSuite } from './suites/browser.js';
import { caffenetSuite, layersSuite } from './suites/caffenet.js';
import { extractionSuite } from './suites/extraction.js';
import { gemmSuite } from './suites/gemm.js';
import { headSuite } from './suites/head.js';
import { loadSuite } from './suites/load.js';
import { peersSuite } from './suites/peers.js';
import { resultsPath } from './results.js';
import { scaleSuite } from './suites/scale.js';

/** The benchmark suites by name, as `--suite` takes them. */
export const suites: Record<string, () => Promise<void>> = {
  gemm: gemmSuite,
  caffenet: caffenetSuite,
  layers: layersSuite,
  head: headSuite,
  extraction: extractionSuite,
  load: loadSuite,
  peers: peersSuite,
  browser: browserSuite,
  scale: scaleSuite,
};

/** Runs the named suites in order; each writes its section of bench/RESULTS.md. */
export async function runSuites(names: string[]): Promise<void> {
  const unknown = names.filter((name) => !(name in suites));
  if (unknown.length > 0) {
    throw new Error(`unknown suite ${unknown.join(', ')}; available: ${Object.keys(suites).join(', ')}`);
  }
  for (const name of names) await suites[name]!();
  console.log(`results written to ${resultsPath}`);
}
