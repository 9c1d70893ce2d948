/**
 * What happens to calls in flight when the leader tab goes away (web/tabs/shared-client.ts), in real Chromium
 * with real Web Locks and BroadcastChannel: a client whose state lives in localStorage, three tabs, and a leader
 * that is closed while it is in the middle of calls from itself's followers. Nothing is lost, nothing whose effect
 * was stored runs twice, and a call that may not be repeated fails clearly instead of being guessed.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- code run inside the page talks to an untyped global */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/hush-broker.ts';
import { serveFixture, type FixtureServer } from './fixtures/tabs/serve.ts';

describe('calls in flight across a leader change', () => {
  let fixture: FixtureServer;
  let browser: Browser;
  let context: BrowserContext;
  const errors: string[] = [];

  async function tab(profile: string): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${fixture.url}/?profile=${profile}`);
    await page.waitForFunction(() => (globalThis as any).journal?.shared);
    return page;
  }
  const role = (p: Page) => p.evaluate(() => (globalThis as any).journal.shared.role);
  const executed = (p: Page) => p.evaluate(() => (globalThis as any).journal.executed as string[]);
  /** Starts a call in the page and keeps its outcome in `journal.outcomes[key]`. */
  const start = (p: Page, key: string, method: string, ...args: unknown[]) =>
    p.evaluate(
      ([k, m, a]) => {
        const j = (globalThis as any).journal;
        j.outcomes ??= {};
        j.shared.call(m, ...(a as unknown[])).then(
          (value: unknown) => (j.outcomes[k as string] = { ok: true, value }),
          (e: any) =>
            (j.outcomes[k as string] = { ok: false, name: e.name, code: e.code, message: e.message }),
        );
      },
      [key, method, args] as const,
    );
  const outcome = async (p: Page, key: string) => {
    await p.waitForFunction((k) => (globalThis as any).journal.outcomes?.[k], key);
    return p.evaluate((k) => (globalThis as any).journal.outcomes[k], key);
  };

  beforeAll(async () => {
    fixture = await serveFixture(path.join(REPO_ROOT, 'test/e2e/fixtures/tabs/journal-entry.ts'));
    browser = await launchChromium();
    context = await browser.newContext();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it('answers followers: results, errors with their code, and refusals of what was not listed', async () => {
    const a = await tab('basics');
    const b = await tab('basics');
    expect([await role(a), await role(b)]).toEqual(['leader', 'follower']);

    await start(b, 'echo', 'echo', { nested: [1, 'two', null] });
    expect(await outcome(b, 'echo')).toEqual({ ok: true, value: { nested: [1, 'two', null] } });
    await start(b, 'fail', 'fail', 'E_PURPOSE');
    expect(await outcome(b, 'fail')).toMatchObject({ ok: false, name: 'TypeError', code: 'E_PURPOSE' });
    // A method that is not listed is refused by the leader, whatever a tab posts on the channel.
    await start(b, 'wipe', 'wipe');
    expect(await outcome(b, 'wipe')).toMatchObject({ ok: false, code: 'unknown-method' });
    // Arguments that cannot be cloned fail in the caller, with a clear code.
    await b.evaluate(() => {
      const j = (globalThis as any).journal;
      j.shared.call('echo', () => 1).catch((e: any) => (j.outcomes.fn = { ok: false, code: e.code }));
    });
    expect(await outcome(b, 'fn')).toEqual({ ok: false, code: 'not-cloneable' });
    // A follower's call that gets no answer in time fails with 'timeout' (this method's timeout is 300 ms).
    await start(b, 'hang', 'hang');
    expect(await outcome(b, 'hang')).toMatchObject({ ok: false, code: 'timeout' });
    expect(await executed(a)).toEqual(['echo', 'hang']);
    expect(await executed(b)).toEqual([]);

    // Events and reads: the follower's synchronous reads already include what the event announces.
    await start(b, 'append', 'append', 'first');
    const appended = (await outcome(b, 'append')).value.id;
    const seen = await b.evaluate(() => {
      const j = (globalThis as any).journal;
      return { size: j.shared.view.size, entries: j.shared.view.entries(), events: j.events };
    });
    expect(seen.size).toBe(1);
    expect(seen.entries.map((e: any) => e.id)).toEqual([appended]);
    expect(seen.events).toEqual([{ name: 'appended', args: [{ id: appended, text: 'first' }] }]);

    // A leader that leaves on purpose (close()) hands over just like a closed tab, and its own calls then fail.
    await a.evaluate(() => (globalThis as any).journal.shared.close());
    await b.waitForFunction(() => (globalThis as any).journal.roles.join() === 'follower,leader');
    await start(a, 'after-close', 'echo', 1);
    expect(await outcome(a, 'after-close')).toMatchObject({ ok: false, code: 'closed' });
    await start(b, 'own', 'bump');
    expect(await outcome(b, 'own')).toEqual({ ok: true, value: 1 });
    await a.close();
    await b.close();
  });

  it('after the leader closes mid-call: recovered, retried, refused — and calls made during the handover run once', async () => {
    const a = await tab('handover');
    const b = await tab('handover');
    const c = await tab('handover');
    expect([await role(a), await role(b), await role(c)]).toEqual(['leader', 'follower', 'follower']);
    await a.evaluate(() =>
      Object.assign((globalThis as any).journal.stall, { append: true, bump: true, risky: true }),
    );

    await start(b, 'append', 'append', 'stored before the leader died');
    await start(c, 'bump', 'bump');
    await start(c, 'risky', 'risky');
    await a.waitForFunction(() => (globalThis as any).journal.started.length === 3);
    // The dying leader stored the entry (append writes first) but never incremented the counter.
    expect(await a.evaluate(() => (globalThis as any).journal.shared.view.entries().length)).toBe(1);

    await a.close();
    // Sent while nobody leads: waits for the next leader, then runs there exactly once.
    await start(c, 'during', 'echo', 'during the handover');

    await b.waitForFunction(() => (globalThis as any).journal.roles.join() === 'follower,leader');
    expect(await role(c)).toBe('follower');

    // append: the new leader found the stored entry and answered with it; the entry was not written twice.
    const recovered = await outcome(b, 'append');
    const entries = await b.evaluate(() => (globalThis as any).journal.shared.view.entries());
    expect(entries).toHaveLength(1);
    expect(recovered).toEqual({ ok: true, value: { id: entries[0].id } });
    // bump ('retry'): it never took effect in the dead leader, so it ran once in the new one.
    expect(await outcome(c, 'bump')).toEqual({ ok: true, value: 1 });
    // risky ('reject'): the caller is told it may or may not have happened.
    expect(await outcome(c, 'risky')).toMatchObject({ ok: false, code: 'leader-lost' });
    expect(await outcome(c, 'during')).toEqual({ ok: true, value: 'during the handover' });
    expect((await executed(b)).sort()).toEqual(['bump', 'echo']);
    expect(await executed(c)).toEqual([]);
    // The new leader's events reach the follower.
    await c.waitForFunction(() => (globalThis as any).journal.events.some((e: any) => e.name === 'bumped'));
    expect(await c.evaluate(() => (globalThis as any).journal.shared.view.counter())).toBe(1);

    // A fourth tab joins the new leader; closing a follower changes nothing for the others.
    const d = await tab('handover');
    expect(await role(d)).toBe('follower');
    await c.close();
    await start(d, 'again', 'append', 'from the fourth tab');
    expect(await outcome(d, 'again')).toMatchObject({ ok: true });
    expect(await d.evaluate(() => (globalThis as any).journal.shared.view.size)).toBe(2);
    expect(errors).toEqual([]);
  });

  it('tells a tab that has not opened the profile (onboarding) when another tab starts leading it', async () => {
    const watcher = await context.newPage();
    await watcher.goto(`${fixture.url}/?profile=late&watch=1`);
    await watcher.waitForFunction(() => (globalThis as any).watch);
    expect(await watcher.evaluate(() => (globalThis as any).watch.announced)).toBe(0);
    const leader = await tab('late');
    expect(await role(leader)).toBe('leader');
    await watcher.waitForFunction(() => (globalThis as any).watch.announced > 0);
    // A watcher is not a tab of the profile: it never takes the lock, so the next tab still follows.
    expect(await role(await tab('late'))).toBe('follower');
  });
});
