/* eslint-disable @typescript-eslint/no-explicit-any -- code run inside the page talks to an untyped global */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromB64u, toB64u, utf8 } from '../../src/core/bytes.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
} from '../../src/core/envelope.ts';
import { openDirectEnvelope, sealDirectEnvelope } from '../../src/core/sealed-box.ts';
import { createDeviceIdentity, safetyNumber, publicIdentity } from '../../src/core/identity.ts';
import vectors from '../vectors/envelopes.json' with { type: 'json' };
import { launchChromium } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/hush-broker.ts';

/** The page side: src/core bundled unchanged, served from 127.0.0.1 (a secure context, so WebCrypto works). */
describe('src/core runs unchanged in Chromium and interoperates with Node', () => {
  let server: http.Server;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [path.join(REPO_ROOT, 'test/browser/core-entry.ts')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
    });
    const script = bundle.outputFiles[0]!.text;
    server = http.createServer((req, res) => {
      if (req.url === '/core.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else
        res
          .writeHead(200, {
            'content-type': 'text/html',
            'content-security-policy': "default-src 'none'; script-src 'self'",
          })
          .end('<!doctype html><script src="/core.js"></script>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    await page.waitForFunction(() => 'hush' in globalThis);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it('opens every valid vector and refuses every invalid one with the same code as Node', async () => {
    const result = await page.evaluate(async (v) => {
      const h = (globalThis as any).hush;
      const hex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((b: string) => parseInt(b, 16)));
      const out: string[] = [];
      for (const c of v.chat) {
        const keys = await h.envelope.deriveEpochKeys(h.provider, hex(c.epochKey));
        const opened = await h.envelope.openChatEnvelope(h.provider, keys, hex(c.wire));
        out.push(new TextDecoder().decode(opened.content));
      }
      return out;
    }, vectors as any);
    expect(result.length).toBe((vectors as any).chat.length);
    const refusals = await page.evaluate(async (v) => {
      const h = (globalThis as any).hush;
      const hex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((b: string) => parseInt(b, 16)));
      const out: string[] = [];
      for (const c of v.invalid.filter((i: any) => i.type === 'chat')) {
        try {
          const keys = await h.envelope.deriveEpochKeys(h.provider, hex(c.epochKey));
          await h.envelope.openChatEnvelope(h.provider, keys, hex(c.wire));
          out.push('opened');
        } catch (e) {
          out.push((e as any).code ?? `untyped: ${(e as Error).message}`);
        }
      }
      return out;
    }, vectors as any);
    const expected = (vectors as any).invalid.filter((i: any) => i.type === 'chat').map((i: any) => i.error);
    expect(expected.length).toBeGreaterThan(5);
    expect(refusals, JSON.stringify(refusals)).toEqual(expected);
    expect(result).toEqual((vectors as any).chat.map((c: any) => c.content));
    expect(errors).toEqual([]);
  });

  it('a chat envelope sealed in Node opens in Chromium, and one sealed in Chromium opens in Node', async () => {
    const epochKey = crypto.getRandomValues(new Uint8Array(32));
    for (const provider of [defaultProvider(), nodeCryptoProvider]) {
      const keys = await deriveEpochKeys(provider, epochKey);
      const wire = await sealChatEnvelope(provider, keys, utf8('from node ✓'));
      const fromPage = await page.evaluate(
        async ([k, w]) => {
          const h = (globalThis as any).hush;
          const keys = await h.envelope.deriveEpochKeys(h.provider, h.bytes.fromB64u(k, 'key'));
          const opened = await h.envelope.openChatEnvelope(h.provider, keys, h.bytes.fromB64u(w, 'wire'));
          const reply = await h.envelope.sealChatEnvelope(
            h.provider,
            keys,
            new TextEncoder().encode('from chromium ✓'),
          );
          return { text: new TextDecoder().decode(opened.content), reply: h.bytes.toB64u(reply) };
        },
        [toB64u(epochKey), toB64u(wire)] as const,
      );
      expect(fromPage.text).toBe('from node ✓');
      const opened = await openChatEnvelope(provider, keys, fromB64u(fromPage.reply, 'reply'));
      expect(new TextDecoder().decode(opened.content)).toBe('from chromium ✓');
    }
  });

  it('a signed direct envelope from Chromium (non-extractable keys) opens and verifies in Node, and the reverse', async () => {
    const provider = nodeCryptoProvider;
    const nodeDevice = await createDeviceIdentity(provider);
    const page1 = await page.evaluate(async (nodeAgree) => {
      const h = (globalThis as any).hush;
      const me = await h.identity.createDeviceIdentity(h.provider, { extractable: false });
      const wire = await h.sealedBox.sealDirectEnvelope(
        h.provider,
        h.bytes.fromB64u(nodeAgree, 'agree'),
        new TextEncoder().encode('{"hello":"node"}'),
        { privateKey: me.signing.privateKey },
      );
      (globalThis as any).me = me;
      return {
        wire: h.bytes.toB64u(wire),
        sign: h.bytes.toB64u(me.signing.publicKey),
        agree: h.bytes.toB64u(me.agreement.publicKey),
        id: me.clientId,
        extractable: me.signing.privateKey.handle.extractable,
      };
    }, toB64u(nodeDevice.agreement.publicKey));
    expect(page1.extractable).toBe(false);
    const opened = await openDirectEnvelope(provider, nodeDevice.agreement, fromB64u(page1.wire, 'wire'));
    expect(new TextDecoder().decode(opened.content)).toBe('{"hello":"node"}');
    expect(
      await verifyContentSignature(
        provider,
        fromB64u(page1.sign, 'sign'),
        opened.header,
        opened.content,
        opened.signature,
      ),
    ).toBe(true);

    const back = await sealDirectEnvelope(
      provider,
      fromB64u(page1.agree, 'agree'),
      utf8('{"hello":"chromium"}'),
      {
        privateKey: nodeDevice.signing.privateKey,
      },
    );
    const inPage = await page.evaluate(
      async ([w, signer]) => {
        const h = (globalThis as any).hush;
        const me = (globalThis as any).me;
        const o = await h.sealedBox.openDirectEnvelope(h.provider, me.agreement, h.bytes.fromB64u(w, 'wire'));
        const ok = await h.envelope.verifyContentSignature(
          h.provider,
          h.bytes.fromB64u(signer, 's'),
          o.header,
          o.content,
          o.signature,
        );
        return { text: new TextDecoder().decode(o.content), ok };
      },
      [toB64u(back), toB64u(nodeDevice.signing.publicKey)] as const,
    );
    expect(inPage).toEqual({ text: '{"hello":"chromium"}', ok: true });

    // Both sides compute the same safety number.
    const pagePublic = { id: page1.id, sign: fromB64u(page1.sign, 's'), agree: fromB64u(page1.agree, 'a') };
    const inNode = await safetyNumber(provider, publicIdentity(nodeDevice), pagePublic);
    const inChromium = await page.evaluate(
      async ([n]) => {
        const h = (globalThis as any).hush;
        const me = (globalThis as any).me;
        const other = {
          id: n.id,
          sign: h.bytes.fromB64u(n.sign, 's'),
          agree: h.bytes.fromB64u(n.agree, 'a'),
        };
        return h.identity.safetyNumber(h.provider, h.identity.publicIdentity(me), other);
      },
      [
        {
          id: nodeDevice.clientId,
          sign: toB64u(nodeDevice.signing.publicKey),
          agree: toB64u(nodeDevice.agreement.publicKey),
        },
      ] as const,
    );
    expect(inChromium).toBe(inNode);
    expect(errors).toEqual([]);
  });
});
