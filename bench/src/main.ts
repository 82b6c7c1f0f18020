import { parseArgs } from 'node:util';
import { shutdownPool } from '@cnn/tensor';
import { runSuites, suites } from './index.js';

/* `npm run bench [-- --suite a,b]`: runs the suites (all but `scale`, which takes an hour, by default). */
const { values } = parseArgs({ options: { suite: { type: 'string' } } });
try {
  await runSuites(values.suite ? values.suite.split(',') : Object.keys(suites).filter((name) => name !== 'scale'));
} finally {
  await shutdownPool();
}
