/**
 * The web app end to end against a real Mosquitto (issues 6 and 7): a deployment from `hush deploy mosquitto`
 * on free ports, `hush start --mosquitto-dir` in front of it as user mosquitto, and Chromium talking to
 * Mosquitto's WebSocket listener over wss://. Chromium accepts the broker's certificate through a pin of its
 * key (issued by the deployment's CA, see brokerSpkiPin), not by ignoring every certificate error.
 * Two people chat with receipts, reload, catch up after being closed; a group of three loses a member who
 * then reads nothing; an uninvited person learns nothing; nothing leaves the origin and the broker URL, and
 * no plaintext crosses it.
 */
import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePasswordFile } from '../../src/broker/passwd/index.ts';
import { launchChromium } from '../helpers/chromium.ts';
import {
  brokerSpkiPin,
  startMosquittoDeployment,
  type MosquittoDeployment,
} from '../helpers/mosquitto-deployment.ts';
import {
  framesContain,
  message,
  newPerson,
  onboard,
  openChat,
  outsideRequests,
  say,
  waitOnline,
  type Person,
} from './web-people.ts';

describe('the web app in Chromium against a real Mosquitto over wss://', () => {
  let deployment: MosquittoDeployment;
  let url: string;
  let browser: Browser;
  let alice: Person;
  let bob: Person;
  const everyone: Person[] = [];
  /** Responses with an error status, with their URLs (the console only says "Failed to load resource"). */
  const failed: string[] = [];
  const ids: Record<string, string> = {};
  /** Every text anyone sent: none may ever appear in a WebSocket frame or on an outsider's page. */
  const secrets: string[] = [];
  let groupLink = '';

  async function person(name: string): Promise<Person> {
    const p = await newPerson(browser, name);
    p.context.on('response', (r) => r.status() >= 400 && failed.push(`${name}: ${r.status()} ${r.url()}`));
    everyone.push(p);
    return p;
  }

  async function send(p: Person, text: string): Promise<void> {
    secrets.push(text);
    await say(p, text);
  }

  async function closeDialogs(p: Person): Promise<void> {
    while ((await p.page.locator('dialog[open]').count()) > 0) await p.page.keyboard.press('Escape');
  }

  const accounts = async () =>
    parsePasswordFile(await readFile(deployment.passwd, 'utf8'), deployment.passwd).entries;

  beforeAll(async () => {
    deployment = await startMosquittoDeployment();
    url = deployment.server.url;
    browser = await launchChromium([
      `--ignore-certificate-errors-spki-list=${await brokerSpkiPin(deployment)}`,
    ]);
    alice = await person('Alice');
    bob = await person('Bob');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await deployment?.stop();
  });

  it('Chromium reaches Mosquitto only through the pinned broker key: without it the certificate is refused', async () => {
    const plain = await launchChromium();
    try {
      const page = await plain.newPage();
      const refused = await page.goto(`https://localhost:${deployment.wsPort}/mqtt`).then(
        () => 'loaded',
        (error: Error) => error.message,
      );
      expect(refused).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await plain.close();
    }
  });

  it(
    'two people onboard, create and join a chat, and exchange messages both ways with delivered and read receipts',
    { timeout: 120_000 },
    async () => {
      ids.alice = await onboard(alice, url);
      ids.bob = await onboard(bob, url);
      expect(ids.alice).not.toBe(ids.bob);
      // Registered in Mosquitto's own password file, and connected to Mosquitto's listener, not the server.
      const entries = await accounts();
      expect(entries.has(ids.alice)).toBe(true);
      expect(entries.has(ids.bob)).toBe(true);
      for (const p of [alice, bob]) expect(p.requests).toContain(deployment.wss);

      await alice.page.getByRole('button', { name: 'New chat' }).click();
      const link = await alice.page.locator('#invite-link').inputValue();
      expect(link.startsWith(`${url}/#invite=`)).toBe(true);
      await bob.page.goto(link);
      await bob.page.waitForFunction(() => location.hash === '');
      await bob.page.locator('#composer').waitFor({ state: 'visible' });
      await alice.page.locator('#chat-title', { hasText: 'Bob' }).waitFor();

      await send(bob, 'hello Alice, via Mosquitto');
      await message(alice, 'hello Alice, via Mosquitto').waitFor();
      // Alice has the chat open: Bob's message becomes read.
      await message(bob, 'hello Alice, via Mosquitto').locator('[data-state="read"]').waitFor();
      await send(alice, 'hi Bob, over wss');
      await message(bob, 'hi Bob, over wss').waitFor();
      await message(alice, 'hi Bob, over wss').locator('[data-state="read"]').waitFor();

      // Delivered but not read: Bob's app runs with the chat list shown, not the conversation.
      await bob.page.goto(`${url}/`);
      await waitOnline(bob);
      await send(alice, 'delivered, not yet read');
      await message(alice, 'delivered, not yet read').locator('[data-state="delivered"]').waitFor();
      await bob.page.locator('#chat-list .chat-item .unread', { hasText: '1' }).waitFor();
      await bob.page.locator('#chat-list .chat-item').first().click();
      await message(bob, 'delivered, not yet read').waitFor();
      await message(alice, 'delivered, not yet read').locator('[data-state="read"]').waitFor();
    },
  );

  it(
    'a reload keeps identity, keys and history; a recipient that was closed gets the messages when it comes back',
    { timeout: 120_000 },
    async () => {
      await bob.page.goto('about:blank');
      await send(alice, 'while you were away (1)');
      await send(alice, 'while you were away (2)');
      // Mosquitto queues them in Bob's persistent session; Alice only knows they left.
      await message(alice, 'while you were away (2)').locator('[data-state="sent"]').waitFor();

      await bob.page.goto(`${url}/`);
      await waitOnline(bob);
      expect(await bob.page.locator('#client-id').textContent()).toBe(ids.bob);
      await bob.page.locator('#chat-list .chat-item .unread', { hasText: '2' }).waitFor();
      await message(alice, 'while you were away (2)').locator('[data-state="delivered"]').waitFor();
      await bob.page.locator('#chat-list .chat-item').first().click();
      for (const text of [
        'hello Alice, via Mosquitto',
        'hi Bob, over wss',
        'delivered, not yet read',
        'while you were away (1)',
        'while you were away (2)',
      ])
        await message(bob, text).waitFor();
      await message(alice, 'while you were away (2)').locator('[data-state="read"]').waitFor();

      // Alice reloads too: her history is there, and her keys are the same ones (Bob can still read her and
      // sees no key-change warning).
      await alice.page.reload();
      await waitOnline(alice);
      expect(await alice.page.locator('#client-id').textContent()).toBe(ids.alice);
      await alice.page.locator('#chat-list .chat-item').first().click();
      await message(alice, 'hello Alice, via Mosquitto').waitFor();
      await send(alice, 'after my reload');
      await message(bob, 'after my reload').waitFor();
      await send(bob, 'and back to you');
      await message(alice, 'and back to you').waitFor();
      expect(await bob.page.locator('#key-change-alert').count()).toBe(0);
      expect(await alice.page.locator('#key-change-alert').count()).toBe(0);
    },
  );

  it(
    'a group of three: the removed member gets nothing readable afterwards; the other two keep chatting',
    { timeout: 180_000 },
    async () => {
      const carol = await person('Carol');
      ids.carol = await onboard(carol, url);

      await alice.page.getByRole('button', { name: 'New group' }).click();
      await alice.page.getByLabel('Group name').fill('Hikers');
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      groupLink = await alice.page.locator('#invite-link').inputValue();
      await bob.page.goto(groupLink);
      await bob.page.locator('#chat-title', { hasText: 'Hikers' }).waitFor();
      await alice.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
      await alice.page.locator('#invite-done').click();
      await alice.page.locator('#members-button').click();
      await alice.page.locator('#add-member').click();
      const secondLink = await alice.page.locator('#invite-link').inputValue();
      await carol.page.goto(secondLink);
      await carol.page.locator('#chat-title', { hasText: 'Hikers' }).waitFor();
      for (const p of [alice, bob, carol])
        await p.page.locator('#chat-subtitle', { hasText: '3 members' }).waitFor();
      await alice.page.locator('#invite-done').click();

      await send(alice, 'Trail at nine, everyone?');
      await send(bob, 'Bob here: nine works');
      await send(carol, 'Carol too, I bring the map');
      for (const p of [alice, bob, carol])
        for (const text of ['Trail at nine', 'Bob here', 'Carol too']) await message(p, text).waitFor();

      await alice.page.locator('#members-button').click();
      await alice.page.locator(`[data-remove="${ids.carol}"]`).click();
      await alice.page.locator('#confirm-yes').click();
      await alice.page.locator('#members-status', { hasText: 'removed' }).waitFor();
      await closeDialogs(alice);
      for (const p of [alice, bob])
        await p.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();

      const after = ['Now just the two of us, Bob', 'Right, Carol cannot read this'];
      await send(alice, after[0]!);
      await send(bob, after[1]!);
      await message(bob, after[0]!).waitFor();
      await message(alice, after[1]!).waitFor();
      // Read by the other side: every copy went out through Mosquitto and was handled.
      await message(alice, after[0]!).locator('[data-state="read"]').waitFor();
      await message(bob, after[1]!).locator('[data-state="read"]').waitFor();
      // Carol, still online and still subscribed to her inbox, has none of it.
      await waitOnline(carol);
      for (const text of after) {
        expect(await message(carol, text).count()).toBe(0);
        expect(await carol.page.locator('body').textContent()).not.toContain(text);
        expect(framesContain(carol, text)).toBe(false);
      }
      // And after a reload (everything queued for her processed) still nothing.
      await carol.page.reload();
      await waitOnline(carol);
      await openChat(carol, 'Hikers');
      await message(carol, 'Carol too').waitFor();
      for (const text of after) expect(await carol.page.locator('body').textContent()).not.toContain(text);
    },
  );

  it(
    'a third, uninvited person learns nothing, even with a used invite link',
    { timeout: 120_000 },
    async () => {
      const eve = await person('Eve');
      await onboard(eve, url);
      await eve.page.goto(groupLink);
      await eve.page.locator('#notice', { hasText: 'Could not join' }).waitFor();
      expect(await eve.page.locator('#chat-list .chat-item').count()).toBe(0);
      const page = (await eve.page.locator('body').textContent()) ?? '';
      expect(eve.frames.length).toBeGreaterThan(0);
      for (const text of secrets) {
        expect(page).not.toContain(text);
        expect(framesContain(eve, text), text).toBe(false);
      }
    },
  );

  it('made no request outside its origin and the broker URL, sent no plaintext, logged no console errors', () => {
    const allowed = [`${url}/`, deployment.wss];
    expect(everyone.map((p) => p.name)).toEqual(['Alice', 'Bob', 'Carol', 'Eve']);
    expect(failed).toEqual([]);
    for (const p of everyone) {
      expect(p.requests, p.name).toContain(deployment.wss);
      expect(outsideRequests(p, allowed), p.name).toEqual([]);
      expect(p.frames.length, p.name).toBeGreaterThan(0);
      for (const text of secrets) expect(framesContain(p, text), `${p.name}: ${text}`).toBe(false);
      expect(p.errors, p.name).toEqual([]);
      expect(p.dialogs, p.name).toEqual([]);
    }
  });
});
