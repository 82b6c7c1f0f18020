/**
 * Whether a process with this id is running: how a lock file holding a pid tells a live owner
 * from one that died (a crash, kill -9) and left its lock behind.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
