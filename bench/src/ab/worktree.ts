import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** One side of the comparison: what the user named, the commit, and the folder its packages load from. */
export interface Side {
  name: string;
  commit: string;
  root: string;
  /** Removes the temporary worktree (nothing for the working tree itself). */
  remove(): void;
}

/**
 * A checkout of `name` to run: `.` is this working tree as it is (uncommitted changes
 * included); anything else is resolved by git and checked out into a temporary worktree.
 * The worktree gets a node_modules of its own whose `@cnn/*` links point into it and whose
 * other entries link to this checkout's installed packages, so no `npm ci` is needed; an old
 * commit whose dependencies differ from today's fails when it loads, naming the missing package.
 */
export function checkout(repo: string, name: string): Side {
  const git = (...args: string[]): string => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
  if (name === '.') {
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return { name: dirty ? 'working tree' : 'HEAD', commit: git('rev-parse', '--short', 'HEAD') + (dirty ? '+changes' : ''), root: repo, remove: () => {} };
  }
  let commit: string;
  try {
    commit = git('rev-parse', '--short', '--verify', `${name}^{commit}`);
  } catch {
    throw new Error(`'${name}' names no commit of ${repo}`);
  }
  const root = path.join(mkdtempSync(path.join(tmpdir(), 'cnn-ab-')), commit);
  git('worktree', 'add', '--detach', '--quiet', root, commit);
  linkModules(path.join(repo, 'node_modules'), path.join(root, 'node_modules'));
  return {
    name,
    commit,
    root,
    remove: () => {
      git('worktree', 'remove', '--force', root);
      rmSync(path.dirname(root), { recursive: true, force: true });
    },
  };
}

/** node_modules for a worktree: relative links (the workspaces, `@cnn/*`) are copied as links, so they point into it; the rest link here. */
function linkModules(from: string, to: string): void {
  if (!existsSync(from)) throw new Error(`${from} is missing: run npm ci in this checkout first`);
  mkdirSync(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (entry.isSymbolicLink() && !path.isAbsolute(readlinkSync(source))) symlinkSync(readlinkSync(source), path.join(to, entry.name));
    else if (entry.name.startsWith('@') && entry.isDirectory() && readdirSync(source, { withFileTypes: true }).some((scoped) => scoped.isSymbolicLink())) linkModules(source, path.join(to, entry.name));
    else symlinkSync(source, path.join(to, entry.name));
  }
}
