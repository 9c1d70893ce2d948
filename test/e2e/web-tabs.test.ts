/**
 * Several tabs of one profile share one device (issue 6): real Chromium, one browser context, the real HushClient
 * against a real `hush start`, and a Node peer (Bob). Exactly one tab leads and holds the only MQTT connection;
 * a follower's calls run once, in the leader; events and synchronous reads reach every tab; closing the leader
 * hands the device to a follower, and a tab opened later follows the new leader.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- code run inside the page talks to an untyped global */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedText } from '../../src/client/api.ts';
import { registerDevice } from '../../src/client/device.ts';
import { HushClient } from '../../src/client/hush-client.ts';
import { MemoryStore } from '../../src/client/storage.ts';
import { nodeCryptoProvider as provider } from '../../src/crypto-node/provider.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/hush-broker.ts';
import { startHushServer, type HushServer } from '../integration/server-harness.ts';
import { serveFixture, type FixtureServer } from './fixtures/tabs/serve.ts';

interface Tab {
  page: Page;
  /** MQTT WebSockets this tab opened. */
  sockets: string[];
  errors: string[];
}

describe('tabs of one profile share one device and one MQTT connection', () => {
  let dir: string;
  let server: HushServer;
  let fixture: FixtureServer;
  let browser: Browser;
  let context: BrowserContext;
  let bob: HushClient;
  const bobGot: ReceivedText[] = [];
  let chatId: string;
  let a: Tab;
  let b: Tab;
  let c: Tab;

  async function tab(): Promise<Tab> {
    const page = await context.newPage();
    const t: Tab = { page, sockets: [], errors: [] };
    page.on('websocket', (ws) => t.sockets.push(ws.url()));
    page.on('console', (m) => m.type() === 'error' && t.errors.push(m.text()));
    page.on('pageerror', (e) => t.errors.push(e.message));
    await page.goto(`${fixture.url}/?server=${encodeURIComponent(server.url)}&profile=alice`);
    await page.waitForFunction(
      () => (globalThis as any).hushTabs?.shared || (globalThis as any).hushTabs?.errors.length,
    );
    expect(await page.evaluate(() => (globalThis as any).hushTabs.errors)).toEqual([]);
    return t;
  }

  const role = (t: Tab) => t.page.evaluate(() => (globalThis as any).hushTabs.shared.role as string);
  const read = (t: Tab, name: string, ...args: unknown[]) =>
    t.page.evaluate(
      ([n, a]) => {
        const view = (globalThis as any).hushTabs.shared.view;
        const v = view[n as string];
        return typeof v === 'function' ? v(...(a as unknown[])) : v;
      },
      [name, args] as const,
    );
  const call = (t: Tab, method: string, ...args: unknown[]) =>
    t.page.evaluate(([m, a]) => (globalThis as any).hushTabs.shared.view[m as string](...(a as unknown[])), [
      method,
      args,
    ] as const);
  const executed = (t: Tab, method: string) =>
    t.page.evaluate(
      (m) => (globalThis as any).hushTabs.executed.filter((e: any) => e.method === m).map((e: any) => e.args),
      method,
    );
  const sawEvent = (t: Tab, name: string, text: string) =>
    t.page.waitForFunction(
      ([n, x]) =>
        (globalThis as any).hushTabs.events.some(
          (e: any) => e.name === n && JSON.stringify(e.args).includes(x),
        ),
      [name, text] as const,
    );
  async function bobReceives(text: string): Promise<ReceivedText> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = bobGot.find((m) => m.text === text);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`Bob never received ${JSON.stringify(text)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** Bob got `text` exactly once: a marker sent after it by the same device arrives after it (one MQTT session). */
  async function bobGotOnce(from: Tab, text: string, marker: string): Promise<void> {
    await call(from, 'sendText', chatId, marker);
    await bobReceives(marker);
    expect(bobGot.filter((m) => m.text === text)).toHaveLength(1);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-tabs-'));
    server = await startHushServer({ dataDir: path.join(dir, 'data') });
    fixture = await serveFixture(path.join(REPO_ROOT, 'test/e2e/fixtures/tabs/hush-entry.ts'), {
      api: server.url,
      connect: [`ws://127.0.0.1:${server.webPort}`],
    });
    const store = new MemoryStore();
    await registerDevice({ server: server.url, name: 'Bob', store, provider });
    bob = await HushClient.open({ store, provider, preferMqttUrl: true });
    bob.on('message', (m) => bobGot.push(m));
    await bob.connect();
    browser = await launchChromium();
    context = await browser.newContext();
  }, 60_000);

  afterAll(async () => {
    await bob?.close();
    await browser?.close();
    await fixture?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('one leader holds the only connection; a follower call runs once there; events and reads reach both', async () => {
    a = await tab();
    expect(await role(a)).toBe('leader');
    await a.page.waitForFunction(() => (globalThis as any).hushTabs.shared.view.connectionState === 'online');
    b = await tab();
    expect(await role(b)).toBe('follower');
    // The follower answers synchronous reads from the leader's snapshot: the same device.
    const clientId = await read(a, 'clientId');
    expect(await read(b, 'clientId')).toBe(clientId);
    expect(await read(b, 'displayName')).toBe('Alice');
    expect(await read(b, 'connectionState')).toBe('online');

    // The follower joins Bob's chat: the call runs in the leader, once, and resolves in the follower.
    const { link } = await bob.createInvite();
    chatId = (await call(b, 'acceptInvite', link)) as string;
    expect(chatId).toBe(bob.chats()[0]!.chatId);
    expect(await executed(a, 'acceptInvite')).toEqual([[link]]);
    expect(await executed(b, 'acceptInvite')).toEqual([]);
    expect(((await read(b, 'chats')) as any[]).map((c) => c.chatId)).toEqual([chatId]);

    const sent = (await call(b, 'sendText', chatId, 'from the follower')) as { id: string };
    expect((await bobReceives('from the follower')).id).toBe(sent.id);
    expect(await executed(a, 'sendText')).toEqual([[chatId, 'from the follower']]);
    expect(await executed(b, 'sendText')).toEqual([]);
    expect(((await read(b, 'history', chatId)) as any[]).map((m) => m.id)).toContain(sent.id);

    // An event from the network reaches both tabs, and the follower's snapshot already has it when it fires.
    await bob.sendText(chatId, 'hello both tabs');
    await sawEvent(a, 'message', 'hello both tabs');
    await sawEvent(b, 'message', 'hello both tabs');
    const inB = (await read(b, 'history', chatId)) as any[];
    expect(inB.map((m) => m.text)).toEqual(['from the follower', 'hello both tabs']);
    // Own message states move on in the follower too (Bob's client sends 'delivered').
    await b.page.waitForFunction(
      (id) =>
        (globalThis as any).hushTabs.shared.view.history(id.c).find((m: any) => m.id === id.m)?.state ===
        'delivered',
      { c: chatId, m: sent.id },
    );

    // An SDK error crosses as name, code and message.
    const error = await b.page.evaluate(() =>
      (globalThis as any).hushTabs.shared.view.sendText('no-such-chat', 'x').then(
        () => 'resolved',
        (e: any) => ({ name: e.name, code: e.code, message: e.message }),
      ),
    );
    expect(error).toMatchObject({ name: 'HushClientError', code: 'unknown-chat' });
    expect(error.message).toContain('no-such-chat');

    await bobGotOnce(a, 'from the follower', 'marker 1');
    // One MQTT connection for the device: the leader's, and none from the follower.
    expect(a.sockets).toHaveLength(1);
    expect(b.sockets).toEqual([]);
  });

  it('closing the leader tab hands the device to the follower; a third tab follows the new leader', async () => {
    await a.page.close();
    await b.page.waitForFunction(() => (globalThis as any).hushTabs.roles.join() === 'follower,leader');
    expect(await role(b)).toBe('leader');
    await b.page.waitForFunction(() => (globalThis as any).hushTabs.shared.view.connectionState === 'online');

    const sent = (await call(b, 'sendText', chatId, 'after the handover')) as { id: string };
    expect((await bobReceives('after the handover')).id).toBe(sent.id);
    expect(await executed(b, 'sendText')).toEqual([[chatId, 'after the handover']]);
    await bob.sendText(chatId, 'welcome, new leader');
    await sawEvent(b, 'message', 'welcome, new leader');

    c = await tab();
    expect(await role(c)).toBe('follower');
    // The new follower sees the whole history at once, from the store the new leader reopened.
    const history = (await read(c, 'history', chatId)) as any[];
    expect(history.map((m) => m.text)).toEqual([
      'from the follower',
      'hello both tabs',
      'marker 1',
      'after the handover',
      'welcome, new leader',
    ]);
    await call(c, 'sendText', chatId, 'from the third tab');
    await bobReceives('from the third tab');
    expect(await executed(c, 'sendText')).toEqual([]);
    expect(await executed(b, 'sendText')).toContainEqual([chatId, 'from the third tab']);
    await bob.sendText(chatId, 'to all tabs');
    await sawEvent(b, 'message', 'to all tabs');
    await sawEvent(c, 'message', 'to all tabs');
    await bobGotOnce(b, 'after the handover', 'marker 2');
    expect(bobGot.filter((m) => m.text === 'from the third tab')).toHaveLength(1);

    // Still one connection at a time: the new leader opened exactly one, the third tab none, and no tab saw the
    // broker hand the session to a second connection.
    expect(b.sockets).toHaveLength(1);
    expect(c.sockets).toEqual([]);
    for (const t of [b, c]) {
      const seen = await t.page.evaluate(() =>
        (globalThis as any).hushTabs.events
          .filter((e: any) => e.name === 'connection' || e.name === 'warning')
          .map((e: any) => e.args[0].state ?? e.args[0].code),
      );
      expect(seen).not.toContain('replaced');
      expect(seen).not.toContain('second-connection');
      expect(t.errors).toEqual([]);
    }
    expect(a.errors).toEqual([]);
  });

  it('a text the closing leader already stored is recovered, not sent twice; one it never started is sent once', async () => {
    await b.page.evaluate(() => (globalThis as any).hushTabs.stallSend.push('after', 'before'));
    const pending = c.page.evaluate((id) => {
      const view = (globalThis as any).hushTabs.shared.view;
      const settle = (p: Promise<any>) =>
        p.then(
          (v) => ({ ok: true, v }),
          (e) => ({ ok: false, code: e.code }),
        );
      return Promise.all([
        settle(view.sendText(id, 'stored, then the leader closed')),
        settle(view.sendText(id, 'never started by the old leader')),
      ]);
    }, chatId);
    // The old leader took both; it stored and published the first (Bob has it), and stalls in both.
    await b.page.waitForFunction(() =>
      (globalThis as any).hushTabs.executed.some((e: any) => e.args[1] === 'never started by the old leader'),
    );
    const first = await bobReceives('stored, then the leader closed');
    await b.page.close();

    const [recovered, sentNow] = await pending;
    expect(await role(c)).toBe('leader');
    // The new leader found the first text in the store and answered with its id instead of sending it again.
    expect(recovered).toEqual({ ok: true, v: { id: first.id } });
    expect(await executed(c, 'sendText')).toEqual([[chatId, 'never started by the old leader']]);
    const second = await bobReceives('never started by the old leader');
    expect(sentNow).toEqual({ ok: true, v: { id: second.id } });
    await bobGotOnce(c, 'stored, then the leader closed', 'marker 3');
    expect(bobGot.filter((m) => m.text === 'never started by the old leader')).toHaveLength(1);
    expect(c.sockets).toHaveLength(1);
    expect(c.errors).toEqual([]);
  });
});
