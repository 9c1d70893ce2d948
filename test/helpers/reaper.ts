/**
 * Kills child processes a test started if the test process goes away without stopping them (a failed
 * beforeAll, a crashed worker), so no broker outlives its test run.
 */
const children = new Set<number>();
let installed = false;

/** Remembers a pid to kill at exit; returns a function that forgets it once stopped normally. */
export function reapAtExit(pid: number): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', () => {
      for (const child of children) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  children.add(pid);
  return () => children.delete(pid);
}
