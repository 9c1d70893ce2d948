/**
 * Helpers for the web app's end-to-end tests: a "person" is one browser context (one profile) with one page,
 * whose requests, WebSocket frames, console errors and dialogs are recorded so the tests can check that nothing
 * leaves the origin, nothing is logged as an error, and no plaintext crosses the wire.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jsQRModule from 'jsqr';
import mqttPacket from 'mqtt-packet';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/hush-broker.ts';

export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  requests: string[];
  errors: string[];
  dialogs: string[];
  /** Every WebSocket frame the page sent or received (MQTT packets), as raw bytes. */
  frames: Buffer[];
  /** The frames the page received, in order (the broker's side of the MQTT stream). */
  received: Buffer[];
}

/** A new browser context with one page, recording what the page does. */
export async function newPerson(
  browser: Browser,
  name: string,
  viewport = { width: 1280, height: 800 },
): Promise<Person> {
  const context = await browser.newContext({ viewport });
  const requests: string[] = [];
  const errors: string[] = [];
  const dialogs: string[] = [];
  const frames: Buffer[] = [];
  const received: Buffer[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('websocket', (ws) => {
    requests.push(ws.url());
    const bytes = (payload: string | Buffer) =>
      typeof payload === 'string' ? Buffer.from(payload) : payload;
    ws.on('framesent', (f) => frames.push(bytes(f.payload)));
    ws.on('framereceived', (f) => {
      frames.push(bytes(f.payload));
      received.push(bytes(f.payload));
    });
  });
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { name, context, page, requests, errors, dialogs, frames, received };
}

/** Onboards `p` on the app at `url`; resolves with its client id once it is online. */
export async function onboard(p: Person, url: string): Promise<string> {
  await p.page.goto(`${url}/`);
  await p.page.getByLabel('Display name').fill(p.name);
  await p.page.getByRole('button', { name: 'Start chatting' }).click();
  await p.page.locator('#client-id').waitFor();
  await waitOnline(p);
  return (await p.page.locator('#client-id').textContent())!;
}

/** Waits until the connection banner says online. */
export async function waitOnline(p: Person): Promise<void> {
  await p.page.locator('#banner[data-state="online"]').waitFor({ state: 'attached' });
}

/** The message row with `text` in the open conversation. */
export function message(p: Person, text: string): Locator {
  return p.page.locator('#messages li.message', { hasText: text });
}

/** Types and sends `text` in the open conversation. */
export async function say(p: Person, text: string): Promise<void> {
  await p.page.locator('#message-input').fill(text);
  await p.page.locator('#message-input').press('Enter');
  await message(p, text).waitFor();
}

/** Opens the chat whose list entry contains `title`. */
export async function openChat(p: Person, title: string): Promise<void> {
  await p.page.locator('#chat-list .chat-item', { hasText: title }).click();
  await p.page.locator('#chat-title', { hasText: title }).waitFor();
}

// jsQR is CommonJS whose module object is the function and also carries it as `default`; its types only know the latter.
const jsQR = jsQRModule.default;

/**
 * Reads the QR code drawn by the SVG at `selector`: rasterised in the page (8 whole pixels per module, on white
 * with a quiet zone), decoded with jsQR. Not @paulmillr/qr's own decoder: fed perfect bitmaps of codes its encoder
 * made, it fails on about 3 in 100 ("invalid version pattern", "RS.decode: invalid errors number"), while jsQR
 * reads all of them, so those failures were the reader's, not the app's.
 */
export async function readQr(p: Person, selector: string): Promise<string> {
  const image = await p.page
    .locator(selector)
    .first()
    .evaluate(async (svg) => {
      const scale = 8;
      const copy = svg.cloneNode(true) as SVGSVGElement;
      const size = Number(copy.getAttribute('viewBox')!.split(' ')[2]) * scale;
      const margin = 4 * scale;
      copy.setAttribute('width', String(size));
      copy.setAttribute('height', String(size));
      const img = new Image();
      img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(copy))}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = size + 2 * margin;
      canvas.height = size + 2 * margin;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, margin, margin, size, size);
      const data = g.getImageData(0, 0, canvas.width, canvas.height);
      return { width: canvas.width, height: canvas.height, data: Array.from(data.data) };
    });
  const code = jsQR(Uint8ClampedArray.from(image.data), image.width, image.height);
  if (!code) throw new Error(`QR code at ${selector} could not be read (${image.width}x${image.height} px)`);
  return code.data;
}

/** Requests outside the app's origin and broker URL. */
export function outsideRequests(p: Person, allowed: string[]): string[] {
  return p.requests.filter((url) => url !== 'about:blank' && !allowed.some((a) => url.startsWith(a)));
}

/** The payloads of the MQTT PUBLISH packets the page received on `topic` (parsed from its WebSocket frames). */
export function receivedPublishes(p: Person, topic: string): Buffer[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: Buffer[] = [];
  parser.on('packet', (packet) => {
    if (packet.cmd === 'publish' && packet.topic === topic) out.push(Buffer.from(packet.payload));
  });
  for (const frame of p.received) parser.parse(frame);
  return out;
}

/** True if any recorded WebSocket frame of `p` contains `text` (UTF-8). */
export function framesContain(p: Person, text: string): boolean {
  const needle = Buffer.from(text);
  return p.frames.some((f) => f.includes(needle));
}

/**
 * Screenshots: always written into a temporary folder; with HUSH_SCREENSHOTS=1 also copied into docs/img (so a
 * normal test run never changes the work tree).
 */
export class Screenshots {
  #dir: string | undefined;

  async take(page: Page, name: string): Promise<string> {
    this.#dir ??= await mkdtemp(path.join(tmpdir(), 'hush-shots-'));
    const file = path.join(this.#dir, `${name}.png`);
    await page.screenshot({ path: file });
    if (process.env.HUSH_SCREENSHOTS === '1') {
      const target = path.join(REPO_ROOT, 'docs', 'img');
      await mkdir(target, { recursive: true });
      await copyFile(file, path.join(target, `${name}.png`));
    }
    return file;
  }

  /** Removes the temporary folder. */
  async dispose(): Promise<void> {
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }
}
