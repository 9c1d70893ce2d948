/**
 * Makes the README's screenshot of the web chat: starts `hush start` on free ports with a throwaway data dir,
 * lets two Chromium contexts onboard and chat, and saves Alice's view. Run: `npx tsx scripts/screenshot.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchChromium } from '../test/helpers/chromium.ts';
import { startHushServer } from '../test/integration/server-harness.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'hush-shot-'));
const server = await startHushServer({ dataDir: path.join(dir, 'data') });
const browser = await launchChromium();
try {
  const open = async (name: string) => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 620 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.getByLabel('Display name').fill(name);
    await page.getByRole('button', { name: 'Start chatting' }).click();
    await page.locator('#banner[data-state="online"]').waitFor({ state: 'attached' });
    return page;
  };
  const alice = await open('Alice');
  const bob = await open('Bob');
  await alice.getByRole('button', { name: 'New chat' }).click();
  const link = await alice.locator('#invite-link').inputValue();
  await bob.goto(link);
  await bob.locator('#composer').waitFor({ state: 'visible' });
  const say = async (page: typeof alice, text: string) => {
    await page.locator('#message-input').fill(text);
    await page.locator('#message-input').press('Enter');
    await page.locator('#messages li.message', { hasText: text }).waitFor();
  };
  await say(bob, 'Hi Alice! Only the two of us can read this.');
  await say(alice, 'Hi Bob. The broker only ever sees ciphertext.');
  await say(bob, 'And a wildcard subscriber sees nothing at all.');
  await say(alice, '<img src=x onerror=alert(1)> stays text, too.');
  await alice
    .locator('#messages li.message', { hasText: 'stays text' })
    .locator('[data-state="read"]')
    .waitFor();
  await alice.screenshot({ path: 'docs/img/web-chat.png' });
  console.log('wrote docs/img/web-chat.png');
} finally {
  await browser.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
