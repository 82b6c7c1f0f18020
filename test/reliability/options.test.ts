import { describe, expect, it } from 'vitest';
import { resolveConfig } from '@cnn/experiment';
import { cnn } from './cnn.js';

// Issue 12, defect 6: a bad number option printed nothing and exited 1.
describe('every option value is checked, and a refusal names the option and what it accepts', () => {
  const cases: [string[], RegExp][] = [
    [['experiment', '--seed', 'abc'], /option '--seed <n>' argument 'abc' is invalid\. expected an integer/],
    [['experiment', '--max-iter', '1.5'], /option '--max-iter <n>' argument '1\.5' is invalid\. expected an integer >= 1/],
    [['experiment', '--base-lr', '0'], /option '--base-lr <x>' argument '0' is invalid\. expected a number > 0/],
    [['experiment', '--scale', 'x'], /option '--scale <x>' argument 'x' is invalid\. expected a number/],
    [['experiment', '--resize', 'x'], /option '--resize <n>' argument 'x' is invalid\. expected an integer >= 1/],
    [['experiment', '--preset', 'vgg'], /option '--preset <name>' argument 'vgg' is invalid\. expected one of caffenet, mobilenet/],
    [['classify', 'a.png', '--prototxt', 'p', '--weights', 'w', '--top', 'abc'], /option '--top <n>' argument 'abc' is invalid\. expected an integer >= 1/],
    // Issue 12, defect 17: --top 0 printed nothing with exit code 0.
    [['classify', 'a.png', '--prototxt', 'p', '--weights', 'w', '--top', '0'], /option '--top <n>' argument '0' is invalid\. expected an integer >= 1/],
    [['forward', '--prototxt', 'p', '--input', 'i', '--out', 'o', '--resize', 'x'], /option '--resize <n>' argument 'x' is invalid\. expected an integer >= 1/],
    [['forward', '--prototxt', 'p', '--input', 'i', '--out', 'o', '--channel-order', 'GBR'], /option '--channel-order <order>' argument 'GBR' is invalid\. expected one of BGR, RGB/],
    [['label', '--out', 'x.csv', '--port', 'abc'], /option '--port <n>' argument 'abc' is invalid\. expected an integer from 0 to 65535/],
    [['label', '--out', 'x.csv', '--port', '70000'], /option '--port <n>' argument '70000' is invalid\. expected an integer from 0 to 65535/],
    [['label', '--out', 'x.csv', '--order-seed', '1e'], /option '--order-seed <n>' argument '1e' is invalid\. expected an integer/],
    [['label', '--out', 'x.csv', '--reader-study', '--split', 'foo'], /option '--split <name>' argument 'foo' is invalid\. expected one of train, val, test/],
    // List options are parsed when given, not after the data is read.
    [['experiment', '--data', 'd', '--learning-curve', 'abc'], /option '--learning-curve <list>' argument 'abc' is invalid\. .*'abc' is not a number of studies per class/],
    [['experiment', '--data', 'd', '--mean-values', '1,2'], /option '--mean-values <b,g,r>' argument '1,2' is invalid\. .*must be one number or three/],
    [['classify', 'a.png', '--prototxt', 'p', '--weights', 'w', '--mean-values', 'x'], /option '--mean-values <B,G,R>' argument 'x' is invalid\./],
  ];
  it.each(cases)('cnn %j', async (args, message) => {
    const run = await cnn(...args);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  it('the same rules hold for the settings of a config file', () => {
    expect(() => resolveConfig({ data: 'd', prototxt: 'p', weights: 'w', seed: 'abc' as unknown as number })).toThrow(/seed \(--seed\) must be an integer, got "abc"/);
    expect(() => resolveConfig({ data: 'd', prototxt: 'p', weights: 'w', baseLr: -1 })).toThrow(/baseLr \(--base-lr\) must be a number > 0, got -1/);
    expect(() => resolveConfig({ data: 'd', prototxt: 'p', weights: 'w', patience: 1.5 })).toThrow(/patience \(--patience\) must be an integer >= 0, got 1\.5/);
  });
});

// Issue 12, defect 9: a model without data ran the synthetic demo and ignored the model.
describe('cnn experiment with a model but no data', () => {
  it('is an error that says --data is needed, not a run of the demo', async () => {
    const run = await cnn('experiment', '--prototxt', 'deploy.prototxt', '--weights', 'w.caffemodel', '--quiet');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--prototxt given without --data/);
    expect(run.stdout).not.toMatch(/demo/);
  });
});
