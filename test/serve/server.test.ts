import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readServedModel, startServeServer } from '@cnn/experiment/serve';
import { fixture, REPO_ROOT } from '../helpers/shared.js';
import { rawGet } from '../label/helpers.js';

/** `cnn serve` as a user runs it (a child process from the sources), and its answers as a client sees them. */

const work = mkdtempSync(path.join(tmpdir(), 'cnn-serve-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const LENET = 'caffe/real/lenet';

/** An experiment's output folder holding LeNet, with the preprocessing given in experiment.json. */
function lenetRun(name: string, experiment: object | undefined): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'deploy.prototxt'), readFileSync(fixture(LENET, 'deploy.prototxt')));
  symlinkSync(fixture(LENET, 'model.caffemodel'), path.join(dir, 'retrained.caffemodel'));
  writeFileSync(path.join(dir, 'classes.txt'), readFileSync(fixture(LENET, 'labels.txt')));
  if (experiment) writeFileSync(path.join(dir, 'experiment.json'), JSON.stringify(experiment));
  return dir;
}

describe('cnn serve', () => {
  it('serves /classify and /learn cross-origin isolated, to this host only, the model from the plain address on loopback', async () => {
    const dir = lenetRun('run', { preset: 'mobilenet', resize: 28 });
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', 'serve', '--model', dir, '--port', '0'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stdout = '';
    const url = new URL(
      await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /open (http:\/\/127\.0\.0\.1:\d+\/classify\?token=\S+)/.exec(stdout);
          if (match) resolve(match[1]!);
        });
        child.on('exit', () => reject(new Error(`cnn serve exited early: ${stdout}`)));
      }),
    );
    const port = Number(url.port);
    const token = url.searchParams.get('token')!;
    for (const target of ['/classify', '/learn', '/app/engine.js']) {
      const answer = await rawGet(port, target);
      expect(answer.status, target).toBe(200);
      expect(answer.headers).toMatch(/\r\ncross-origin-opener-policy: same-origin\r\n/i);
      expect(answer.headers).toMatch(/\r\ncross-origin-embedder-policy: require-corp\r\n/i);
    }
    expect((await rawGet(port, '/classify')).body).toMatch(/<input id="image" type="file"/);
    expect((await rawGet(port, '/api/model')).status).toBe(200);
    expect((await rawGet(port, '/classify', `attacker.example:${port}`)).status).toBe(403);
    expect((await rawGet(port, '/api/model', `attacker.example:${port}`)).status).toBe(403);
    expect((await rawGet(port, '/app/../package.json')).status).toBe(404);
    const model = await fetch(`${url.origin}/api/model`, { headers: { 'X-Serve-Token': token } });
    expect(model.status).toBe(200);
    const served = (await model.json()) as { classes: string[]; recipe: { channelOrder: string; resizeTo: number; scale: number } };
    expect(served.classes).toHaveLength(10);
    expect(served.recipe).toMatchObject({ channelOrder: 'RGB', resizeTo: 28, scale: 1 / 128 });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('needs the token for the model when listening beyond loopback', async () => {
    const server = await startServeServer({ model: readServedModel(lenetRun('network', { scale: 0.00390625 })), host: '0.0.0.0', token: 'secret-token' });
    try {
      expect((await rawGet(server.port, '/classify')).status).toBe(200);
      expect((await rawGet(server.port, '/api/model')).status).toBe(403);
      expect((await rawGet(server.port, '/api/model?token=secret-token')).status).toBe(403);
      const answer = await fetch(`http://127.0.0.1:${server.port}/api/model/weights`, { headers: { 'X-Serve-Token': 'secret-token' } });
      expect(answer.status).toBe(200);
      expect(new Uint8Array(await answer.arrayBuffer())).toEqual(new Uint8Array(readFileSync(fixture(LENET, 'model.caffemodel'))));
    } finally {
      await server.close();
    }
  });

  it('names the missing file of a folder that is not an experiment output', () => {
    const dir = lenetRun('no-classes', undefined);
    rmSync(path.join(dir, 'classes.txt'));
    expect(() => readServedModel(dir)).toThrow(/--model .*no-classes: classes\.txt is missing/);
  });

  it('takes the preprocessing flags over experiment.json, as cnn classify would with them', () => {
    const dir = lenetRun('flags', { preset: 'caffenet' });
    expect(readServedModel(dir, { preset: 'mobilenet', resize: 28 }).recipe).toMatchObject({ channelOrder: 'RGB', resizeTo: 28 });
  });
});
