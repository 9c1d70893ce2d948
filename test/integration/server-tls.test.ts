/**
 * `hush start` and transport security: plain HTTP only on loopback (elsewhere it refuses before binding),
 * and --generate-tls makes a local CA (fingerprint printed, keys 0600) and serves https and wss.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHush } from '../helpers/hush-broker.ts';
import { connectClient } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';
import { newSecret, startHushServer } from './server-harness.ts';

/** https.request with a CA (Node's fetch cannot take one): status, headers and body text. */
function httpsRequest(
  url: string,
  ca: Buffer,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      { ca, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** True when nothing listens on 127.0.0.1:port (we can bind it ourselves). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('hush start: transport security', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hush-tls-start-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses plain HTTP on a non-loopback host, with a clear message, before binding anything', async () => {
    const [port, mqttPort] = [await freePort(), await freePort()];
    const dataDir = path.join(dir, 'refused');
    const result = await runHush(
      [
        'start',
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--mqtt-port',
        String(mqttPort),
        '--data-dir',
        dataDir,
      ],
      { timeoutMs: 15_000 },
    );
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/refusing to serve plain HTTP on 0\.0\.0\.0/);
    expect(result.stderr).toMatch(/--tls-cert/);
    expect(result.stderr).toMatch(/--generate-tls/);
    expect(result.stdout).not.toMatch(/hush ready/);
    await expect(stat(dataDir)).rejects.toThrow();
    expect(await portIsFree(port)).toBe(true);

    const mqttOnly = await runHush(
      [
        'start',
        '--mqtt-host',
        '0.0.0.0',
        '--port',
        String(port),
        '--mqtt-port',
        String(mqttPort),
        '--data-dir',
        dataDir,
      ],
      { timeoutMs: 15_000 },
    );
    expect(mqttOnly.code).not.toBe(0);
    expect(mqttOnly.stderr).toMatch(/refusing to serve plain MQTT on 0\.0\.0\.0/);
  });

  it('--generate-tls creates a local CA, prints its SHA-256 fingerprint and serves https and wss', async () => {
    const dataDir = path.join(dir, 'tls');
    const server = await startHushServer({ dataDir, args: ['--generate-tls'], tls: true });
    let restarted: Awaited<ReturnType<typeof startHushServer>> | undefined;
    try {
      const tlsDir = path.join(dataDir, 'tls');
      const ca = await readFile(path.join(tlsDir, 'ca.crt'));
      const fingerprint = new X509Certificate(ca).fingerprint256;
      expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(server.output()).toContain(`sha256=${fingerprint}`);
      expect(server.output()).toContain(`hush ready https://127.0.0.1:${server.webPort}/`);
      for (const key of ['ca.key', 'server.key']) {
        expect((await stat(path.join(tlsDir, key))).mode & 0o777).toBe(0o600);
      }
      expect((await stat(tlsDir)).mode & 0o777).toBe(0o700);

      const page = await httpsRequest(`${server.url}/`, ca);
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
      // No HSTS for a generated CA: it would pin every port of localhost to https.
      expect(page.headers['strict-transport-security']).toBeUndefined();
      // Without the CA the certificate is not trusted.
      await expect(httpsRequest(`${server.url}/`, Buffer.from(''))).rejects.toThrow();

      const secret = newSecret();
      const registered = await httpsRequest(`${server.url}/api/v1/devices`, ca, {
        method: 'POST',
        body: JSON.stringify({ secret }),
        headers: { 'content-type': 'application/json' },
      });
      expect(registered.status).toBe(201);
      const device = JSON.parse(registered.body) as { clientId: string; brokerUrl: string; mqttUrl?: string };
      expect(device.brokerUrl).toBe(`wss://127.0.0.1:${server.webPort}/mqtt`);
      expect(device.mqttUrl).toBe(`mqtt://127.0.0.1:${server.mqttPort}`);
      const client = await connectClient(device.brokerUrl, {
        username: device.clientId,
        password: secret,
        ca,
      });
      await client.end();

      // A restart reuses the CA: the fingerprint users verified stays the same.
      expect(await server.stop()).toBe(0);
      restarted = await startHushServer({ dataDir, args: ['--generate-tls'], tls: true });
      expect(restarted.output()).toContain(`sha256=${fingerprint}`);
      expect((await httpsRequest(`${restarted.url}/healthz`, ca)).status).toBe(200);
    } finally {
      await server.stop();
      await restarted?.stop();
    }
  });
});
