/**
 * Vitest global setup: builds the web app (dist/web) with Vite before any test runs, so the e2e tests and every
 * `hush start` child process serve the current sources.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'vite';
import { REPO_ROOT } from '../helpers/hush-broker.ts';

export default async function setup(): Promise<void> {
  // Built beside dist/web and swapped in by rename: Vite empties its outDir first, and a server of another test run
  // still serving dist/web would otherwise answer 404 for a moment.
  const target = path.join(REPO_ROOT, 'dist/web');
  const next = `${target}.next-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  await build({
    configFile: path.join(REPO_ROOT, 'web/vite.config.ts'),
    logLevel: 'error',
    build: { outDir: next, emptyOutDir: true },
  });
  await rename(target, old).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(next, target);
  await rm(old, { recursive: true, force: true });
}
