/**
 * Two tabs of the real web app on one profile against a real Mosquitto (issue 6): the deployment from
 * `hush deploy mosquitto` with `hush start --mosquitto-dir` in front of it, Chromium trusting the broker's pinned
 * key (see brokerSpkiPin). One browser context, two pages: they share one device and one MQTT WebSocket to the
 * wss:// broker URL; a peer's message shows in both, the follower's send reaches the peer once, and closing the
 * leader tab hands the connection to the other tab, which keeps sending and receiving on its own connection.
 * Nothing leaves the origin and the broker URL, and nothing is logged as an error.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import {
  brokerSpkiPin,
  startMosquittoDeployment,
  type MosquittoDeployment,
} from '../helpers/mosquitto-deployment.ts';
import {
  message,
  newPerson,
  onboard,
  openChat,
  outsideRequests,
  say,
  waitOnline,
  type Person,
} from './web-people.ts';

/** One page of a context, with what it logged as errors and the WebSockets it opened (and which are open). */
interface Tab {
  page: Page;
  errors: string[];
  sockets: string[];
  open: Set<string>;
}

// Copied from web-tabs-app.test.ts (not exported there; that file belongs to another test).
function watch(page: Page): Tab {
  const tab: Tab = { page, errors: [], sockets: [], open: new Set() };
  let n = 0;
  page.on('websocket', (ws) => {
    const key = `${++n}:${ws.url()}`;
    tab.sockets.push(ws.url());
    tab.open.add(key);
    ws.on('close', () => tab.open.delete(key));
  });
  page.on('console', (m) => m.type() === 'error' && tab.errors.push(m.text()));
  page.on('pageerror', (e) => tab.errors.push(e.message));
  return tab;
}

/** A tab (as a Person, for the shared helpers) of the context; `requests` is the context's whole record. */
function asPerson(tab: Tab, context: BrowserContext, name: string, requests: string[]): Person {
  return {
    name,
    context,
    page: tab.page,
    requests,
    errors: tab.errors,
    dialogs: [],
    frames: [],
    received: [],
  };
}

const openSockets = (...tabs: Tab[]): number => tabs.reduce((n, t) => n + t.open.size, 0);

// Generous waits: Mosquitto, `hush start` and Chromium share two cores with other test runs.
const WAIT = { timeout: 30_000 };

describe('two tabs of the web app on one profile, against a real Mosquitto over wss://', () => {
  let deployment: MosquittoDeployment;
  let url: string;
  let browser: Browser;
  let bob: Person;
  /** Responses with an error status, with their URLs (the console only says "Failed to load resource"). */
  const failed: string[] = [];

  beforeAll(async () => {
    deployment = await startMosquittoDeployment();
    url = deployment.server.url;
    browser = await launchChromium([
      `--ignore-certificate-errors-spki-list=${await brokerSpkiPin(deployment)}`,
    ]);
    bob = await newPerson(browser, 'Bob');
    bob.context.on('response', (r) => r.status() >= 400 && failed.push(`Bob: ${r.status()} ${r.url()}`));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await deployment?.stop();
  });

  it('share one wss connection, both show what arrives, the follower sends, and closing the leader hands over', async () => {
    const bobId = await onboard(bob, url);
    const context = await browser.newContext();
    // Everything the profile requests, from either tab (WebSockets are added per tab below).
    const requests: string[] = [];
    context.on('request', (r) => requests.push(r.url()));
    context.on('response', (r) => r.status() >= 400 && failed.push(`Alice: ${r.status()} ${r.url()}`));
    const first = watch(await context.newPage());
    const alice1 = asPerson(first, context, 'Alice', requests);
    const aliceId = await onboard(alice1, url);
    expect(aliceId).not.toBe(bobId);

    // The second tab opens the same device, without onboarding and without a connection of its own.
    const second = watch(await context.newPage());
    const alice2 = asPerson(second, context, 'Alice', requests);
    await second.page.goto(`${url}/`);
    await second.page.locator('#client-id').waitFor(WAIT);
    expect(await second.page.locator('#client-id').textContent()).toBe(aliceId);
    expect(await second.page.locator('#my-name').textContent()).toBe('Alice');
    // Its banner follows the leader's connection to Mosquitto, which is online.
    await waitOnline(alice2);
    expect(first.sockets).toEqual([deployment.wss]);
    expect(second.sockets).toEqual([]);
    expect(openSockets(first, second)).toBe(1);

    // A chat made in the first tab appears in the second.
    await first.page.getByRole('button', { name: 'New chat' }).click();
    const link = await first.page.locator('#invite-link').inputValue();
    expect(link.startsWith(`${url}/#invite=`)).toBe(true);
    await bob.page.goto(link);
    await bob.page.locator('#composer').waitFor({ state: 'visible', ...WAIT });
    await first.page.locator('#chat-title', { hasText: 'Bob' }).waitFor(WAIT);
    await openChat(alice2, 'Bob');

    // The peer's message, through Mosquitto, shows in both tabs.
    await say(bob, 'hello to both tabs via Mosquitto');
    await message(alice1, 'hello to both tabs via Mosquitto').waitFor(WAIT);
    await message(alice2, 'hello to both tabs via Mosquitto').waitFor(WAIT);

    // The follower sends through the leader: the peer gets it once, and the leader tab shows it too.
    await say(alice2, 'sent from the follower');
    await message(bob, 'sent from the follower').waitFor(WAIT);
    await message(alice1, 'sent from the follower').waitFor(WAIT);
    await message(alice2, 'sent from the follower').locator('[data-state="read"]').waitFor(WAIT);
    // A later message from the same sender has arrived after it: a duplicate would have arrived by then.
    await say(alice2, 'and a second one');
    await message(bob, 'and a second one').waitFor(WAIT);
    expect(await message(bob, 'sent from the follower').count()).toBe(1);
    expect(second.sockets).toEqual([]);
    expect(openSockets(first, second)).toBe(1);

    // Closing the leader tab: the other tab takes over the device and opens the one connection itself.
    await first.page.close();
    await second.page.waitForFunction(
      () => document.getElementById('banner')?.dataset.state === 'online',
      undefined,
      WAIT,
    );
    await expect.poll(() => second.sockets, WAIT).toEqual([deployment.wss]);
    await waitOnline(alice2);
    // (A closed page reports no close of its sockets: the closed tab's connection went with it.)
    expect(first.page.isClosed()).toBe(true);
    expect(second.open.size).toBe(1);

    await say(bob, 'after the handover');
    await message(alice2, 'after the handover').waitFor(WAIT);
    await say(alice2, 'still here');
    await message(bob, 'still here').waitFor(WAIT);
    await message(alice2, 'still here').locator('[data-state="read"]').waitFor(WAIT);
    expect(await message(bob, 'still here').count()).toBe(1);
    expect(await message(bob, 'sent from the follower').count()).toBe(1);
    expect(second.sockets).toEqual([deployment.wss]);

    // Nothing outside the origin and the broker URL, from either tab or the peer; no errors anywhere.
    const allowed = [`${url}/`, deployment.wss];
    requests.push(...first.sockets, ...second.sockets);
    expect(requests).toContain(deployment.wss);
    expect(outsideRequests(alice2, allowed)).toEqual([]);
    expect(bob.requests).toContain(deployment.wss);
    expect(outsideRequests(bob, allowed)).toEqual([]);
    expect(failed).toEqual([]);
    expect(first.errors).toEqual([]);
    expect(second.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    expect(bob.dialogs).toEqual([]);
    await context.close();
  }, 180_000);
});
