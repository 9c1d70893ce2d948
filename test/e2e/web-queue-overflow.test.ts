/**
 * Issue 13 in the web app (two people in Chromium against a real `hush start`): while Bob's app is closed, four
 * registered devices fill his offline queue (1,000 messages, 250 each: every sender may take half of it), so the
 * text Alice sends then is dropped by the broker after its acknowledgement. Bob's app, on its return, says how
 * many messages the server dropped (a notice in the chat) and counts the junk in ONE warning; once Bob receipts
 * Alice's next text, Alice's lost text reads "Not delivered" (as text, in its state element) and Bob's chat shows
 * the gap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { connectClient } from '../helpers/mqtt.ts';
import { junkEnvelopes } from '../integration/queue-overflow-support.ts';
import { registerDevice, startHushServer, type HushServer } from '../integration/server-harness.ts';
import { message, newPerson, onboard, say, waitOnline, type Person } from './web-people.ts';

const FLOODERS = 4;
const EACH = 250;

describe('a flooded offline queue in the web app', () => {
  let dir: string;
  let server: HushServer;
  let browser: Browser;
  let alice: Person;
  let bob: Person;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-web-queue-'));
    server = await startHushServer({ dataDir: path.join(dir, 'data') });
    browser = await launchChromium();
    alice = await newPerson(browser, 'Alice');
    bob = await newPerson(browser, 'Bob');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'Bob is told what the server dropped; Alice sees her lost text "Not delivered"',
    { timeout: 120_000 },
    async () => {
      await onboard(alice, server.url);
      const bobId = await onboard(bob, server.url);
      await alice.page.getByRole('button', { name: 'New chat' }).click();
      const link = await alice.page.locator('#invite-link').inputValue();
      await bob.page.goto(link);
      await bob.page.locator('#composer').waitFor({ state: 'visible' });
      // Alice's app knows Bob joined (else her text would go to nobody).
      await alice.page.locator('#chat-title', { hasText: 'Bob' }).waitFor();
      await say(alice, 'before the flood');
      // Bob has the chat open, so it may go straight on to read.
      await message(alice, 'before the flood')
        .locator('[data-state="delivered"], [data-state="read"]')
        .waitFor();
      await bob.page.goto('about:blank');

      const junk = await junkEnvelopes(EACH);
      for (let i = 0; i < FLOODERS; i++) {
        const device = await registerDevice(server.url);
        const flooder = await connectClient(`mqtt://127.0.0.1:${server.mqttPort}`, {
          clientId: device.clientId,
          username: device.clientId,
          password: device.secret,
        });
        try {
          for (const wire of junk)
            await flooder.client.publishAsync(`chats/${bobId}/messages`, wire, { qos: 1 });
        } finally {
          await flooder.end();
        }
      }
      await say(alice, 'lost in the flood');
      await message(alice, 'lost in the flood').locator('[data-state="sent"]').waitFor();

      await bob.page.goto(`${server.url}/`);
      await waitOnline(bob);
      await bob.page
        .locator('#notice', { hasText: `${FLOODERS * EACH} messages could not be read` })
        .waitFor({ timeout: 60_000 });
      await bob.page.locator('#chat-list .chat-item').first().click();
      const dropped = bob.page.locator('#messages .notice-row[data-code="queue-overflow"]');
      await dropped.waitFor();
      expect(await dropped.textContent()).toContain('The server dropped 1 message');

      await say(alice, 'after the flood');
      await message(bob, 'after the flood').waitFor();
      await bob.page.locator('#messages .notice-row[data-code="sequence-gap"]').waitFor();
      const lost = message(alice, 'lost in the flood').locator('.state[data-state="undelivered"]');
      await lost.waitFor();
      expect(await lost.textContent()).toBe('Not delivered');
      expect(await lost.innerHTML()).toBe('Not delivered');
      expect(await message(alice, 'after the flood').locator('.state').getAttribute('data-state')).toMatch(
        /delivered|read/,
      );
      expect(await bob.page.locator('#messages li.message', { hasText: 'lost in the flood' }).count()).toBe(
        0,
      );
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    },
  );
});
