import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/shared.js';
import { makeSandbox } from './helpers.js';

/** `cnn label` as a user runs it: a child process from the repository root, straight from the sources. */

const box = makeSandbox('cnn-label-cli-');
afterAll(() => rmSync(box.dir, { recursive: true, force: true }));
const CLI = ['--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', 'label'];

function cnnLabel(...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('cnn label', () => {
  it('prints the address with its token, serves until SIGTERM, then exits 0 and frees the label file', async () => {
    const out = path.join(box.dir, 'labels.csv');
    const child = spawn(process.execPath, [...CLI, '--data', box.data, '--classes', 'liver,kidney', '--out', out, '--labeller', 'cli'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(`cnn label exited early: ${stdout}`)));
    });
    expect(stdout).toContain('6 images, 0 labelled, 6 to go; 2 classes');
    const origin = new URL(url).origin;
    const token = new URL(url).searchParams.get('token')!;
    const answer = await fetch(`${origin}/api/label`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Label-Token': token },
      body: JSON.stringify({ index: 2, label: 'kidney' }),
    });
    expect(answer.status).toBe(200);
    expect(existsSync(`${out}.lock`)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
    expect(readFileSync(out, 'utf8')).toMatch(/^path,label,labeller,timestamp\ndata\/study1\/b\.png,kidney,cli,/);
  });

  it('says in one line what is missing: the classes of an unlabelled folder', async () => {
    const { code, stderr } = await cnnLabel('--data', box.data, '--out', path.join(box.dir, 'x.csv'));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('cnn: LabelError: give the classes: --classes a,b,c or --classes-file FILE (one name a line)');
  });

  it('refuses a review of one file and a label file that is not one', async () => {
    const review = await cnnLabel('--review', path.join(box.dir, 'a.csv'), '--out', path.join(box.dir, 'y.csv'));
    expect(review.code).toBe(1);
    expect(review.stderr).toContain('--review takes two label files, got 1');
    const notLabels = await cnnLabel('--data', box.data, '--classes', 'a,b', '--out', path.join(box.data, 'notes.txt'));
    expect(notLabels.code).toBe(1);
    expect(notLabels.stderr).toContain('is not a label file');
  });
});
