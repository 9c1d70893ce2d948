/**
 * The web app end to end, beyond two people (issue 6): a group of three formed through invite links (whose QR
 * codes decode to the links), messages all ways with names and a typing indicator, an admin removing a member who
 * then gets nothing more, a fourth uninvited person who learns nothing, a member whose app was closed catching up,
 * safety-number verification, and a virtualised 2,000-message history. Real `hush start`, real Chromium; every
 * WebSocket frame is recorded to show no plaintext ever crosses the wire. Screenshots: see web-people.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { connectClient } from '../helpers/mqtt.ts';
import { registerDevice, startHushServer, type HushServer } from '../integration/server-harness.ts';
import {
  framesContain,
  message,
  newPerson,
  onboard,
  openChat,
  outsideRequests,
  readQr,
  receivedPublishes,
  say,
  Screenshots,
  waitOnline,
  type Person,
} from './web-people.ts';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe('groups, removal, verification and long histories in the web app', () => {
  let dir: string;
  let server: HushServer;
  let browser: Browser;
  let alice: Person;
  let bob: Person;
  let carol: Person;
  const everyone: Person[] = [];
  const ids: Record<string, string> = {};
  /** Every text anyone sent: none may ever appear in a WebSocket frame or on an outsider's page. */
  const secrets: string[] = [];
  let firstLink = '';
  const shots = new Screenshots();

  async function person(name: string): Promise<Person> {
    const p = await newPerson(browser, name, DESKTOP);
    everyone.push(p);
    return p;
  }

  /** Waits until `p` shows `text`; a timeout names the page and what its connection carried (a CI flake once). */
  async function shows(p: Person, text: string): Promise<void> {
    try {
      await message(p, text).waitFor();
    } catch (error) {
      // allTextContents does not wait: a missing notice must not add another timeout.
      const notice = (await p.page.locator('#notice').allTextContents()).join(' ') || 'none';
      throw new Error(
        `${p.name}'s page never showed "${text}" (${p.frames.length} WebSocket frames so far; page errors: ` +
          `${p.errors.join('; ') || 'none'}; notice: ${notice}): ${(error as Error).message}`,
      );
    }
  }

  async function send(p: Person, text: string): Promise<void> {
    secrets.push(text);
    await say(p, text);
  }

  async function closeDialogs(p: Person): Promise<void> {
    while ((await p.page.locator('dialog[open]').count()) > 0) {
      await p.page.keyboard.press('Escape');
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-web-group-'));
    server = await startHushServer({ dataDir: path.join(dir, 'data') });
    browser = await launchChromium();
    alice = await person('Alice');
    bob = await person('Bob');
    carol = await person('Carol');
  }, 60_000);

  afterAll(async () => {
    await shots.dispose();
    await browser?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'three people form a group through invite links and QR codes, and all of them talk',
    { timeout: 180_000 },
    async () => {
      ids.alice = await onboard(alice, server.url);
      ids.bob = await onboard(bob, server.url);
      ids.carol = await onboard(carol, server.url);

      await alice.page.getByRole('button', { name: 'New group' }).click();
      await alice.page.getByLabel('Group name').fill('Hikers');
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      firstLink = await alice.page.locator('#invite-link').inputValue();
      expect(firstLink.startsWith(`${server.url}/#invite=`)).toBe(true);
      // The QR code next to the link is that link.
      expect(await readQr(alice, '#invite-panel svg.qr')).toBe(firstLink);

      await bob.page.goto(firstLink);
      await bob.page.waitForFunction(() => location.hash === '');
      await bob.page.locator('#chat-title', { hasText: 'Hikers' }).waitFor();
      await alice.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
      await alice.page.locator('#invite-done').click();
      expect(await alice.page.locator('#invite-panel').count()).toBe(0);

      // Adding a member is another one-time invite link, from the member panel.
      await alice.page.locator('#members-button').click();
      await alice.page.locator('#add-member').click();
      const secondLink = await alice.page.locator('#invite-link').inputValue();
      expect(secondLink).not.toBe(firstLink);
      expect(await readQr(alice, '#invite-panel svg.qr')).toBe(secondLink);
      await carol.page.goto(secondLink);
      await carol.page.locator('#chat-title', { hasText: 'Hikers' }).waitFor();
      for (const p of [alice, bob, carol])
        await p.page.locator('#chat-subtitle', { hasText: '3 members' }).waitFor();
      await alice.page.locator('#invite-done').click();

      await send(alice, 'Trail at nine, everyone?');
      await send(bob, 'Bob here: yes, nine works');
      await send(carol, 'Carol too — I bring the map');
      for (const p of [alice, bob, carol]) for (const text of secrets) await shows(p, text);
      // Senders are named in a group, on every side (joiners learn the others' names).
      expect(await message(carol, 'Bob here').locator('.from').textContent()).toContain('Bob');
      expect(await message(bob, 'Carol too').locator('.from').textContent()).toContain('Carol');
      expect(await message(carol, 'Trail at nine').locator('.from').textContent()).toContain('Alice');
      await message(alice, 'Trail at nine').locator('[data-state="read"]').waitFor();

      // Typing is shown to the others, and ends with the message.
      await bob.page.locator('#message-input').fill('Shall we');
      await alice.page.locator('#typing', { hasText: 'Bob is typing' }).waitFor();
      await bob.page.locator('#message-input').fill('Shall we meet at the station?');
      await bob.page.locator('#message-input').press('Enter');
      secrets.push('Shall we meet at the station?');
      await message(alice, 'meet at the station').waitFor();
      await alice.page.locator('#typing:empty').waitFor({ state: 'attached' });
      // Screen readers hear new messages through a live region (the virtualised list itself is not live).
      await alice.page
        .locator('#announcer[aria-live="polite"]', { hasText: 'Bob: Shall we meet at the station?' })
        .waitFor({
          state: 'attached',
        });

      // The member panel: admin mark for Alice; only the admin can remove or add.
      await alice.page.locator('#members-button').click();
      const aliceRow = alice.page.locator(`#member-list li[data-member="${ids.alice}"]`);
      await aliceRow.locator('.badge.admin').waitFor();
      expect(await alice.page.locator('#member-list li').count()).toBe(3);
      expect(await alice.page.locator('#member-list [data-remove]').count()).toBe(2);
      await shots.take(alice.page, 'web-desktop-members');
      await closeDialogs(alice);
      await bob.page.locator('#members-button').click();
      await bob.page.locator(`#member-list li[data-member="${ids.alice}"] .badge.admin`).waitFor();
      expect(await bob.page.locator('#member-list [data-remove]').count()).toBe(0);
      expect(await bob.page.locator('#add-member').count()).toBe(0);
      await closeDialogs(bob);
      await alice.page.locator('#message-input').focus();
      await shots.take(alice.page, 'web-desktop-conversation');

      // Keyboard and screen readers: every control has a name; a dialog opened from the keyboard closes with
      // Escape and gives focus back.
      const unnamed = await alice.page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('input, select, textarea, button'))
          .filter((e) => {
            const labelled = (e as HTMLInputElement).labels?.length ?? 0;
            return labelled === 0 && !e.getAttribute('aria-label') && (e.textContent ?? '').trim() === '';
          })
          .map((e) => e.outerHTML.slice(0, 80)),
      );
      expect(unnamed).toEqual([]);
      await alice.page.locator('#members-button').focus();
      await alice.page.keyboard.press('Enter');
      await alice.page.locator('#members-dialog[open]').waitFor();
      await alice.page.keyboard.press('Escape');
      await alice.page.locator('#members-dialog').waitFor({ state: 'detached' });
      expect(await alice.page.evaluate(() => document.activeElement?.id)).toBe('members-button');
    },
  );

  it(
    'the admin removes Carol: she gets nothing afterwards; Alice and Bob keep talking',
    { timeout: 120_000 },
    async () => {
      await alice.page.locator('#members-button').click();
      await alice.page.locator(`[data-remove="${ids.carol}"]`).click();
      // A confirmation first: Cancel keeps her.
      await alice.page.locator('#confirm-no').click();
      expect(await alice.page.locator('#member-list li').count()).toBe(3);
      await alice.page.locator(`[data-remove="${ids.carol}"]`).click();
      await alice.page.locator('#confirm-yes').click();
      await alice.page.locator('#members-status', { hasText: 'removed' }).waitFor();
      await closeDialogs(alice);
      await alice.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
      await bob.page.locator('#chat-subtitle', { hasText: '2 members' }).waitFor();
      await bob.page
        .locator('#messages .notice-row[data-code="member-removed"]', { hasText: 'Carol' })
        .waitFor();

      await send(alice, 'Now just the two of us, Bob');
      await send(bob, 'Right, Carol cannot read this');
      await message(bob, 'Now just the two of us').waitFor();
      await message(alice, 'Carol cannot read this').waitFor();
      // Both were read by the other side: every copy went out and was handled.
      await message(alice, 'Now just the two of us').locator('[data-state="read"]').waitFor();
      await message(bob, 'Carol cannot read this').locator('[data-state="read"]').waitFor();

      // Carol sees she was removed (the admin's signed removal notice, PROTOCOL.md §2): the notice names Alice,
      // and the composer gives way to "no longer a member".
      await carol.page
        .locator('#messages .notice-row[data-code="member-removed"]', {
          hasText: 'removed from the chat by Alice',
        })
        .waitFor();
      await carol.page.locator('#not-member', { hasText: 'no longer a member' }).waitFor();
      expect(await carol.page.locator('#message-input').isDisabled()).toBe(true);
      // She has none of the new messages (not even as ciphertext she could open: the new epoch's key never
      // reached her).
      for (const text of ['Now just the two of us', 'Carol cannot read this']) {
        expect(await message(carol, text).count()).toBe(0);
        expect(await carol.page.locator('body').textContent()).not.toContain(text);
      }
    },
  );

  it(
    'a fourth, uninvited person learns nothing, even with a used invite link',
    { timeout: 120_000 },
    async () => {
      const eve = await person('Eve');
      await onboard(eve, server.url);
      await eve.page.goto(firstLink);
      await eve.page.locator('#notice', { hasText: 'Could not join' }).waitFor();
      expect(await eve.page.locator('#chat-list .chat-item').count()).toBe(0);
      const page = (await eve.page.locator('body').textContent()) ?? '';
      for (const text of secrets) {
        expect(page).not.toContain(text);
        expect(framesContain(eve, text)).toBe(false);
      }
      // Nobody's traffic carries any text in the clear: the broker sees ciphertext only.
      for (const p of [alice, bob, carol]) {
        expect(p.frames.length).toBeGreaterThan(0);
        for (const text of secrets) expect(framesContain(p, text), `${p.name}: ${text}`).toBe(false);
      }
      await eve.context.close();
    },
  );

  it(
    'a tampered copy of a real message and plain garbage sent to Bob are shown as refused, never hidden',
    {
      timeout: 120_000,
    },
    async () => {
      // Mallory is a registered device of the same server (so the broker lets her publish to Bob's inbox) and
      // holds a real ciphertext Bob received: she flips one byte of it and sends it again, then sends junk.
      const inbox = `chats/${ids.bob}/messages`;
      const chatCopies = receivedPublishes(bob, inbox).filter((payload) => payload[0] === 0x01);
      expect(chatCopies.length).toBeGreaterThan(0);
      const tampered = Buffer.from(chatCopies.at(-1)!);
      tampered[tampered.length - 20]! ^= 0x01;
      const device = await registerDevice(server.url);
      const mallory = await connectClient(`ws://127.0.0.1:${server.webPort}/mqtt`, {
        clientId: device.clientId,
        username: device.clientId,
        password: device.secret,
      });
      try {
        const before = await bob.page.locator('#messages li.message').count();
        await mallory.client.publishAsync(inbox, tampered, { qos: 1 });
        const notice = bob.page.locator('#messages .notice-row.warn');
        await notice.first().waitFor();
        expect(await notice.first().textContent()).toMatch(/⚠/);
        expect(await bob.page.locator('#messages li.message').count()).toBe(before);
        await mallory.client.publishAsync(inbox, Buffer.from('not a hush message at all'), { qos: 1 });
        await bob.page.locator('#notice', { hasText: 'Warning' }).waitFor();
      } finally {
        await mallory.end();
      }
      // Bob's app is still working.
      await send(alice, 'Still here after the junk');
      await message(bob, 'Still here after the junk').waitFor();
    },
  );

  it('a member whose app was closed gets the messages when it comes back', { timeout: 120_000 }, async () => {
    await bob.page.goto('about:blank');
    await send(alice, 'While you were away: the bus leaves at 8:40');
    await send(alice, 'And bring water');
    await message(alice, 'bring water').locator('[data-state="sent"]').waitFor();

    await bob.page.setViewportSize(PHONE);
    await bob.page.goto(`${server.url}/`);
    await waitOnline(bob);
    const item = bob.page.locator('#chat-list .chat-item', { hasText: 'Hikers' });
    await item.locator('.unread', { hasText: '2' }).waitFor();
    await item.locator('.last', { hasText: 'And bring water' }).waitFor();
    await message(alice, 'bring water').locator('[data-state="delivered"]').waitFor();
    // Phone width: the list alone, then the conversation alone with a back button.
    expect(await bob.page.locator('.conversation').isVisible()).toBe(false);
    await shots.take(bob.page, 'web-phone-chat-list');
    await item.click();
    await message(bob, 'the bus leaves at 8:40').waitFor();
    await message(bob, 'bring water').waitFor();
    expect(await bob.page.locator('.sidebar').isVisible()).toBe(false);
    await message(alice, 'bring water').locator('[data-state="read"]').waitFor();
    await shots.take(bob.page, 'web-phone-conversation');
    await bob.page.locator('#back').click();
    await bob.page.locator('#chat-list').waitFor();
    await bob.page.setViewportSize(DESKTOP);
    await shots.take(bob.page, 'web-desktop-chat-list');
  });

  it(
    'both sides see the same safety number and QR code; marking verified shows the mark',
    { timeout: 120_000 },
    async () => {
      await openChat(bob, 'Hikers');
      const numbers: string[][] = [];
      for (const [p, other] of [
        [alice, ids.bob!],
        [bob, ids.alice!],
      ] as const) {
        await p.page.locator('#members-button').click();
        await p.page.locator(`[data-verify="${other}"]`).click();
        await p.page.locator('#safety-number li').first().waitFor();
        const groups = await p.page.locator('#safety-number li').allTextContents();
        expect(groups).toHaveLength(12);
        for (const g of groups) expect(g).toMatch(/^\d{5}$/);
        const me = p === alice ? ids.alice : ids.bob;
        expect(await readQr(p, '#verification svg.qr')).toBe(`hush-sn:1:${groups.join('')}:${me}:${other}`);
        numbers.push(groups);
      }
      expect(numbers[0]).toEqual(numbers[1]);
      await shots.take(alice.page, 'web-desktop-verification');
      await bob.page.setViewportSize(PHONE);
      await shots.take(bob.page, 'web-phone-verification');
      await bob.page.setViewportSize(DESKTOP);

      await alice.page.locator('#mark-verified[aria-pressed="false"]').click();
      await alice.page.locator('#mark-verified[aria-pressed="true"]').waitFor();
      await closeDialogs(alice);
      await closeDialogs(bob);
      await alice.page.locator('#members-button').click();
      await alice.page.locator(`#member-list li[data-member="${ids.bob}"] .verified-mark`).waitFor();
      expect(
        await alice.page.locator(`#member-list li[data-member="${ids.alice}"] .verified-mark`).count(),
      ).toBe(0);
      await closeDialogs(alice);
      // Bob's messages carry the mark next to his name; a message that came before he was verified says so.
      await message(alice, 'Carol cannot read this').locator('.from .verified-mark').waitFor();
      await send(bob, 'Verified now');
      await message(alice, 'Verified now').waitFor();
      expect(await message(alice, 'Verified now').locator('[data-trust]').count()).toBe(0);
      expect(await message(alice, 'Bob here').locator('[data-trust="unverified"]').count()).toBe(1);
    },
  );

  it(
    'a contact whose keys changed raises a loud warning that stays until acknowledged',
    {
      timeout: 120_000,
    },
    async () => {
      // A key change (an admin announcing other keys under Bob's client id) cannot be staged from a browser, so
      // Alice's stored contact book is given one, as her SDK would record it, while her app's script is held back.
      const script = /\/assets\/.*\.js$/;
      await alice.page.route(script, (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
      await alice.page.goto(`${server.url}/`);
      await alice.page.evaluate(async (bobId) => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const r = indexedDB.open('hush-profile-default');
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const run = <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>) =>
          new Promise<T>((resolve, reject) => {
            const r = f(db.transaction('blobs', mode).objectStore('blobs'));
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          });
        const book = JSON.parse(
          new TextDecoder().decode(await run<Uint8Array>('readonly', (s) => s.get('contacts.json'))),
        );
        const bob = book.contacts.find((c: { clientId: string }) => c.clientId === bobId);
        // Alice had pinned other keys for Bob; the ones the chat now announces are pending.
        bob.pending = bob.keys;
        bob.keys = {
          sign: bob.keys.agree,
          agree: bob.keys.sign,
          fingerprint: '0000 1111 2222 3333 4444 5555 6666 7777',
        };
        bob.keyChanged = true;
        bob.verified = false;
        bob.keyChangedAt = Date.now();
        await run('readwrite', (s) => s.put(new TextEncoder().encode(JSON.stringify(book)), 'contacts.json'));
      }, ids.bob!);
      await alice.page.unroute(script);
      await alice.page.goto(`${server.url}/`);
      await waitOnline(alice);

      await alice.page
        .locator('#chat-list .chat-item', { hasText: 'Hikers' })
        .locator('.badge.warn')
        .waitFor();
      await openChat(alice, 'Hikers');
      const alert = alice.page.locator('#key-change-alert[role="alert"]');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('Bob');
      // The verified mark is gone with the old keys, and the verification panel says why.
      await alice.page.locator('#members-button').click();
      expect(
        await alice.page.locator(`#member-list li[data-member="${ids.bob}"] .verified-mark`).count(),
      ).toBe(0);
      await alice.page.locator(`[data-verify="${ids.bob}"]`).click();
      await alice.page
        .locator('#verification [role="alert"]', { hasText: 'safety number changed' })
        .waitFor();
      await closeDialogs(alice);

      await alert.locator(`[data-ack="${ids.bob}"]`).click();
      await alert.waitFor({ state: 'detached' });
      await alice.page.reload();
      await waitOnline(alice);
      await openChat(alice, 'Hikers');
      expect(await alice.page.locator('#key-change-alert').count()).toBe(0);
    },
  );

  it(
    'messages written while the server is down are kept, shown as sending, and sent once it is back',
    {
      timeout: 120_000,
    },
    async () => {
      const { webPort, mqttPort } = server;
      await server.stop();
      await alice.page.locator('#banner:not([hidden])').waitFor();
      expect(await alice.page.locator('#banner').getAttribute('data-state')).toMatch(/reconnecting|offline/);
      await send(alice, 'Written while the server was down');
      await message(alice, 'Written while the server').locator('[data-state="sending"]').waitFor();
      server = await startHushServer({ dataDir: path.join(dir, 'data'), webPort, mqttPort });
      for (const p of [alice, bob, carol]) await waitOnline(p);
      await message(bob, 'Written while the server').waitFor();
      await message(alice, 'Written while the server').locator('[data-state="read"]').waitFor();
      // While the server was away the browser logged its refused reconnection attempts; the app logged nothing.
      for (const p of [alice, bob, carol])
        p.errors.splice(
          0,
          p.errors.length,
          ...p.errors.filter((e) => !/WebSocket connection to .* failed/.test(e)),
        );
    },
  );

  it(
    'notifications are opt-in, only while the tab is hidden, and carry no sender or text when hidden',
    {
      timeout: 120_000,
    },
    async () => {
      // Headless Chromium never reports a page as hidden, so this test switches document.visibilityState itself
      // and records each Notification the app creates (the real constructor still runs).
      await bob.context.grantPermissions(['notifications'], { origin: server.url });
      await bob.context.addInitScript(() => {
        const w = window as unknown as { hushHidden: boolean; notes: Array<{ title: string; body: string }> };
        w.hushHidden = false;
        w.notes = [];
        Object.defineProperty(Document.prototype, 'visibilityState', {
          get: () => (w.hushHidden ? 'hidden' : 'visible'),
        });
        const Real = window.Notification;
        class Recorded extends Real {
          constructor(title: string, options?: NotificationOptions) {
            super(title, options);
            w.notes.push({ title, body: options?.body ?? '' });
          }
        }
        Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
        Object.defineProperty(Recorded, 'requestPermission', { value: Real.requestPermission.bind(Real) });
        window.Notification = Recorded;
      });
      await bob.page.reload();
      await waitOnline(bob);
      await openChat(bob, 'Hikers');
      const setHidden = (hidden: boolean) =>
        bob.page.evaluate((value) => {
          (window as unknown as { hushHidden: boolean }).hushHidden = value;
          document.dispatchEvent(new Event('visibilitychange'));
        }, hidden);
      const notes = () =>
        bob.page.evaluate(
          () => (window as unknown as { notes: Array<{ title: string; body: string }> }).notes,
        );

      // Off by default: nothing, even while hidden.
      await setHidden(true);
      await send(alice, 'Notify test one');
      await message(bob, 'Notify test one').waitFor();
      expect(await notes()).toEqual([]);
      // Hidden means not read, even with the chat open.
      await message(alice, 'Notify test one').locator('[data-state="delivered"]').waitFor();
      await setHidden(false);
      await message(alice, 'Notify test one').locator('[data-state="read"]').waitFor();

      await bob.page.locator('.settings summary').click();
      await bob.page.locator('#notify-toggle').click();
      await bob.page.locator('#notify-toggle[aria-pressed="true"]').waitFor();
      await setHidden(true);
      await send(alice, 'Notify test two');
      await bob.page.waitForFunction(() => (window as unknown as { notes: unknown[] }).notes.length === 1);
      expect(await notes()).toEqual([{ title: 'Alice', body: 'Notify test two' }]);

      await setHidden(false);
      await bob.page.locator('#notify-private').check();
      await setHidden(true);
      await send(alice, 'Notify test three: the secret');
      await bob.page.waitForFunction(() => (window as unknown as { notes: unknown[] }).notes.length === 2);
      const hidden = (await notes())[1]!;
      expect(hidden).toEqual({ title: 'Hush', body: 'New message' });

      // Visible: no notification.
      await setHidden(false);
      await send(alice, 'Notify test four');
      await message(bob, 'Notify test four').waitFor();
      expect(await notes()).toHaveLength(2);
    },
  );

  it('follows the system colour scheme, and keeps a theme the user picked', { timeout: 60_000 }, async () => {
    const background = () =>
      alice.page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await alice.page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    expect(dark).not.toBe(light);
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await alice.page.locator('.settings summary').click();
    await alice.page.getByLabel('Theme').selectOption('dark');
    expect(await background()).toBe(dark);
    await alice.page.reload();
    await waitOnline(alice);
    expect(await alice.page.locator('html').getAttribute('data-theme')).toBe('dark');
    expect(await background()).toBe(dark);
    await openChat(alice, 'Hikers');
    await shots.take(alice.page, 'web-desktop-dark');
    await alice.page.locator('.settings summary').click();
    await alice.page.getByLabel('Theme').selectOption('system');
    expect(await background()).toBe(light);
  });

  it(
    'a member leaves: the chat goes from their list and the others are told',
    { timeout: 120_000 },
    async () => {
      await openChat(bob, 'Hikers');
      await bob.page.locator('#members-button').click();
      await bob.page.locator('#leave-chat').click();
      await bob.page.locator('#confirm-yes').click();
      await bob.page.locator('#chat-list .chat-item', { hasText: 'Hikers' }).waitFor({ state: 'detached' });
      await alice.page.locator('#chat-subtitle', { hasText: '1 member' }).waitFor();
      await alice.page
        .locator('#messages .notice-row[data-code="member-left"]', { hasText: 'Bob' })
        .waitFor();
      await send(alice, 'Alone now');
      await message(alice, 'Alone now').locator('[data-state="sent"]').waitFor();
      expect(await bob.page.locator('body').textContent()).not.toContain('Alone now');
    },
  );

  it(
    'a 2,000-message history is virtualised: few rows in the DOM, and scrolling reaches the first',
    { timeout: 180_000 },
    async () => {
      const dave = await person('Dave');
      const daveId = await onboard(dave, server.url);
      await dave.page.getByRole('button', { name: 'New group' }).click();
      await dave.page.getByLabel('Group name').fill('Archive');
      await dave.page.getByRole('button', { name: 'Create group' }).click();
      await dave.page.locator('#invite-link').waitFor();
      // With the app's script held back, the page is the app's origin without the app running: its stored
      // history can be filled in directly.
      const script = /\/assets\/.*\.js$/;
      await dave.page.route(script, (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
      await dave.page.goto(`${server.url}/`);
      const stored = await dave.page.evaluate(
        async ({ n, me }) => {
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const r = indexedDB.open('hush-profile-default');
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          });
          const run = <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>) =>
            new Promise<T>((resolve, reject) => {
              const r = f(db.transaction('blobs', mode).objectStore('blobs'));
              r.onsuccess = () => resolve(r.result);
              r.onerror = () => reject(r.error);
            });
          const keys = (await run('readonly', (s) => s.getAllKeys())) as string[];
          const name = keys.find((k) => k.startsWith('chat.'))!;
          const record = JSON.parse(
            new TextDecoder().decode(await run<Uint8Array>('readonly', (s) => s.get(name))),
          );
          const start = Date.now() - n * 3 * 60_000;
          const other = 'AAAAAAAAAAAAAAAAAAAAAA';
          for (let i = 1; i <= n; i++) {
            const mine = i % 3 !== 0;
            const text = `seeded #${String(i).padStart(4, '0')}${i % 7 === 0 ? ' — a longer line that wraps onto more than one row in a narrow window, to vary the heights' : ''}`;
            record.history.push({
              chatId: record.state.id ?? name.slice(5),
              id: `seed-${i}`,
              from: mine ? me : other,
              text,
              ts: start + i * 3 * 60_000,
              state: mine ? 'read' : 'received',
            });
          }
          await run('readwrite', (s) => s.put(new TextEncoder().encode(JSON.stringify(record)), name));
          return record.history.length as number;
        },
        { n: 2000, me: daveId },
      );
      expect(stored).toBe(2000);
      await dave.page.unroute(script);

      await dave.page.goto(`${server.url}/`);
      await openChat(dave, 'Archive');
      await message(dave, 'seeded #2000').waitFor();
      const drawn = () => dave.page.locator('#messages li.message').count();
      expect(await drawn()).toBeGreaterThan(5);
      expect(await drawn()).toBeLessThan(150);

      // Scroll up a screen at a time (as a reader would) until the top.
      const list = dave.page.locator('#messages');
      const scrollTop = () => list.evaluate((e) => e.scrollTop);
      for (let step = 0; step < 400 && (await scrollTop()) > 0; step++) {
        await list.evaluate((e) => e.scrollBy(0, -e.clientHeight));
        await dave.page.evaluate(
          () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
        );
        expect(await drawn()).toBeLessThan(150);
      }
      expect(await scrollTop()).toBe(0);
      // The first message is drawn, inside the visible part of the list, below its day separator.
      const first = message(dave, 'seeded #0001');
      await first.waitFor();
      const view = (await list.boundingBox())!;
      const box = (await first.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(view.y);
      expect(box.y + box.height).toBeLessThanOrEqual(view.y + view.height);
      const day = (await dave.page.locator('#messages li.day').first().boundingBox())!;
      expect(day.y).toBeLessThan(box.y);
      // And straight back to the end with the "newest messages" button.
      await dave.page.locator('#to-newest').click();
      await message(dave, 'seeded #2000').waitFor();
      await dave.page.locator('#to-newest').waitFor({ state: 'hidden' });
      expect(await drawn()).toBeLessThan(150);
      await dave.context.close();
    },
  );

  it('made no request outside its origin and broker, and logged no console errors', () => {
    const allowed = [`${server.url}/`, `ws://127.0.0.1:${server.webPort}/`];
    for (const p of everyone) {
      expect(outsideRequests(p, allowed), p.name).toEqual([]);
      expect(p.errors, p.name).toEqual([]);
      expect(p.dialogs, p.name).toEqual([]);
    }
  });
});
