/**
 * Vitest global setup: builds the web app (dist/web) with Vite before any test runs, so the e2e tests and every
 * `hush start` child process serve the current sources.
 */
import path from 'node:path';
import { build } from 'vite';
import { REPO_ROOT } from '../helpers/hush-broker.ts';

export default async function setup(): Promise<void> {
  await build({ configFile: path.join(REPO_ROOT, 'web/vite.config.ts'), logLevel: 'error' });
}
