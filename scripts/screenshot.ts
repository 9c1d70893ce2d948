/**
 * Makes the README's screenshots of the web app (docs/img/web-*.png, desktop 1280x800 and phone 390x844): runs the
 * web app's end-to-end tests with HUSH_SCREENSHOTS=1, which copies the pictures they take into docs/img (without
 * it the tests keep them in a temporary folder, so a normal test run leaves the work tree alone).
 * Run: `npx tsx scripts/screenshot.ts`.
 */
import { spawnSync } from 'node:child_process';

const result = spawnSync(
  'npx',
  ['vitest', 'run', 'test/e2e/web-chat.test.ts', 'test/e2e/web-group.test.ts'],
  { stdio: 'inherit', env: { ...process.env, HUSH_SCREENSHOTS: '1' } },
);
process.exitCode = result.status ?? 1;
