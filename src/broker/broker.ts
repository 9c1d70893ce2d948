/**
 * The embedded broker: Aedes with Hush's access control, listeners for MQTT over TCP/TLS and
 * WebSocket, durable sessions, and hard limits. `startBroker` is the one entry; the CLI, the Hush
 * server and the tests all go through it.
 */
// First: replaces `debug` before Aedes loads mqtt-packet (see the file).
import './quiet-debug.ts';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import pino, { type Logger } from 'pino';
import { loadAclFile, type AclFile } from './acl/index.ts';
import { loadPasswordFile, type PasswordTable } from './passwd/index.ts';
import { AccessControl } from './access.ts';
import { createPersistence, dropSession } from './persistence.ts';
import { deliverEachMessageOnce, type DeliveringClient } from './deliver-once.ts';
import { PacketSizeGuard } from './limits/packet-guard.ts';
import { listenTcp, type TlsMaterial } from './listeners/tcp.ts';
import { attachMqttWebSocket, listenWebSocket } from './listeners/ws.ts';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.ts';
import { SessionClock } from './session-clock.ts';
import { cacheEmitterMatches } from './topic-match-cache.ts';
import { orderPublishesPerClient, type OrderedBroker } from './ordered-publish.ts';
import { ParserBufferList } from './parser-buffer-list.ts';
import { tuneV8ForBroker } from './v8-tuning.ts';
import { coalesceWrites } from './write-coalescer.ts';
import { holdAcks } from './ordered-publish.ts';
import { QueueQuota } from './limits/queue-quota.ts';
import { MemoryGuard } from './limits/memory-guard.ts';
import { tellDroppedMessages } from './dropped-notice.ts';

/** The parts of mqtt-packet's parser (inside each Aedes client) the broker wraps. */
interface MqttParser {
  parse(buf: Buffer): unknown;
  settings: { cmd?: string; protocolVersion?: number; bridgeMode?: boolean };
  _list: unknown;
}

/**
 * Publishes Aedes' emitter delivers at once (Aedes' default: 100). Past it, publishes wait in two plain arrays
 * that the emitter shifts one entry at a time as deliveries finish: in `hush bench`, once the broker fell
 * behind (50 client pairs, 500 QoS 1 messages in flight) that release path took 11% of its CPU (against under
 * 1% otherwise), kept it saturated and raised CPU per message by half until the load eased. The limit bounds nothing (the waiting publishes are in memory
 * either way); per-client queues, the publish token bucket and socket backpressure are the real bounds.
 */
const EMITTER_CONCURRENCY = 10_000;

/** A running embedded broker. */
export interface RunningBroker {
  readonly options: ResolvedBrokerOptions;
  /** Bound ports (useful when 0 was asked for). */
  readonly mqttPort: number | undefined;
  readonly wsPort: number | undefined;
  readonly tls: boolean;
  readonly aedes: Aedes;
  /** Hands a connection from another server (the Hush web server's /mqtt) to this broker. */
  handleConnection(stream: Duplex, request?: http.IncomingMessage): void;
  /** Attaches the /mqtt WebSocket endpoint to an existing HTTP(S) server. */
  attachWebSocket(server: http.Server): void;
  /** Re-reads the acl and password files, as Mosquitto does on SIGHUP. Resolves false if a file was refused. */
  reload(): Promise<boolean>;
  /** Removes persistent sessions not seen for longer than the expiry; returns how many. */
  expireSessions(now?: number): Promise<number>;
  /**
   * Installs a password table the caller already holds (the registration server owns the file and
   * writes it itself): no file is re-read; connections of removed or changed users are closed.
   */
  setPasswords(table: PasswordTable): Promise<void>;
  /** Creates a persistent session subscribed (QoS 1) to `topics`, so messages wait before the first connect. */
  provisionSession(clientId: string, topics: string[]): Promise<void>;
  /** Closes a client's connection (if any) and deletes its persistent session and queued messages. */
  removeSession(clientId: string): Promise<void>;
  close(): Promise<void>;
}

async function loadPolicyFiles(
  options: ResolvedBrokerOptions,
): Promise<[AclFile | undefined, PasswordTable | undefined]> {
  const acl = options.aclFile ? await loadAclFile(options.aclFile) : undefined;
  const passwords = options.passwordFile ? await loadPasswordFile(options.passwordFile) : undefined;
  return [acl, passwords];
}

/** Starts the embedded broker; rejects (and leaves nothing running) when a file or option is refused. */
export async function startBroker(input: BrokerOptions, logger?: Logger): Promise<RunningBroker> {
  const options = resolveBrokerOptions(input);
  tuneV8ForBroker();
  const log = (logger ?? pino({ level: 'info' })).child({ component: 'broker' });
  const [acl, passwords] = await loadPolicyFiles(options);
  const tlsMaterial: TlsMaterial | undefined =
    options.tlsCertFile && options.tlsKeyFile
      ? { cert: await readFile(options.tlsCertFile), key: await readFile(options.tlsKeyFile) }
      : undefined;

  // Access control needs the connection count before Aedes exists; filled in right after creation.
  const ref: { aedes?: Aedes } = {};
  const access = new AccessControl(options, acl, passwords, log, () => ref.aedes?.connectedClients ?? 0);
  const queueFullLogged = new Map<string, number>();
  const limits = options.limits;
  const quota = new QueueQuota(limits);
  const ordering: { publisherOf?: (counter: number) => string | undefined } = {};
  const store = await createPersistence(options.dataDir, {
    quota,
    mayQueue: access.mayQueue,
    senderOf: (packet) =>
      (packet.brokerCounter !== undefined ? ordering.publisherOf?.(packet.brokerCounter) : undefined) ?? '',
    onQueueFull(clientId, reason, usage) {
      const now = Date.now();
      if ((queueFullLogged.get(clientId) ?? 0) + 60_000 > now) return;
      if (queueFullLogged.size > 10_000) queueFullLogged.clear();
      queueFullLogged.set(clientId, now);
      log.warn(
        { clientId, reason, queuedMessages: usage.messages, queuedBytes: usage.bytes },
        'queue full: messages for this client are not stored (its owner is told how many on its next connect)',
      );
    },
    maxIncomingQos2: limits.maxIncomingQos2,
    maxIncomingQos2Bytes: limits.maxIncomingQos2Bytes,
    maxRetainedMessages: limits.maxRetainedMessages,
    maxRetainedBytes: limits.maxRetainedBytes,
  });
  const clock = await SessionClock.open(options.dataDir);

  const guard = new MemoryGuard(limits.maxMemoryMb, log, () =>
    ref.aedes ? Object.values((ref.aedes as unknown as { clients: Record<string, Client> }).clients) : [],
  );
  const authenticate: typeof access.authenticate = (client, username, password, done) => {
    if (guard.overLimit) {
      log.warn({ clientId: client.id }, 'connection refused: the broker is at its memory limit');
      return done(Object.assign(new Error('broker memory limit reached'), { returnCode: 3 }) as never, null);
    }
    access.authenticate(client, username, password, done);
  };
  const authorizePublish: typeof access.authorizePublish = (client, packet, done) => {
    // The client sends an unacknowledged QoS 1 message again after it reconnects: refused, not lost.
    if (guard.overLimit && client) return done(new Error('broker memory limit reached'));
    access.authorizePublish(client, packet, done);
  };
  const preConnect: typeof access.preConnect = (client, packet, done) => {
    // The first hook Aedes calls for a connection, before any subscription captures its deliver functions.
    if (ref.aedes) deliverEachMessageOnce(client as unknown as DeliveringClient, ref.aedes.id);
    access.preConnect(client, packet, done);
  };
  const aedes = await Aedes.createBroker({
    persistence: store.persistence,
    connectTimeout: options.limits.connectTimeoutMs,
    drainTimeout: options.limits.drainTimeoutMs,
    maxInflightInbound: options.limits.maxIncomingQos2,
    concurrency: EMITTER_CONCURRENCY,
    maxTopicLevels: Math.min(100, options.limits.maxTopicLevels),
    preConnect: preConnect as never,
    authenticate,
    authorizePublish,
    authorizeSubscribe: access.authorizeSubscribe,
    authorizeForward: access.authorizeForward,
  });
  ref.aedes = aedes;
  store.setBrokerId(aedes.id);
  cacheEmitterMatches((aedes as Aedes & { mq?: unknown }).mq);
  ordering.publisherOf = orderPublishesPerClient(aedes as unknown as OrderedBroker).publisherOf;

  aedes.on('clientReady', (client) => {
    clock.connected(client.id);
    tellDroppedMessages(client, quota, log);
    log.debug({ clientId: client.id, clean: client.clean }, 'client connected');
  });
  aedes.on('clientDisconnect', (client) => {
    if (!client.clean) clock.disconnected(client.id);
    // A clean session ends with its connection: nothing is queued for it, so its ACL need not stay
    // cached (with random ids on an anonymous broker the cache would otherwise only grow).
    else access.forgetCleanClient(client);
  });
  let storeErrorLoggedAt = 0;
  aedes.on('clientError', (client, error) => {
    // A store that cannot write (disk full, I/O error) is the operator's problem, not the client's: say it
    // at error level, naming the data directory, at most once a minute.
    if (
      /ENOSPC|no space left|EIO|EDQUOT|EROFS/i.test(error.message) &&
      Date.now() - storeErrorLoggedAt > 60_000
    ) {
      storeErrorLoggedAt = Date.now();
      log.error(
        { dataDir: options.dataDir, reason: error.message },
        'the broker cannot write its store: publishes are refused (not acknowledged) until there is space again',
      );
    }
    log.info({ clientId: client.id, reason: error.message }, 'client dropped');
  });
  aedes.on('connectionError', (client, error) =>
    log.info({ clientId: client?.id, reason: error.message }, 'connection dropped before CONNECT completed'),
  );

  const outgoingLimit = {
    maxBytes: limits.maxOutgoingBytes,
    onOverflow: (stream: Duplex, backlog: number) => onSlowReader(stream, backlog),
  };
  const onSlowReader = (stream: Duplex, backlog: number): void => {
    const client = Object.values((aedes as unknown as { clients: Record<string, Client> }).clients).find(
      (c) => c.conn === (stream as unknown),
    );
    log.warn(
      { clientId: client?.id, backlogBytes: backlog, limit: limits.maxOutgoingBytes },
      'client disconnected: it stopped reading and its outgoing buffer passed the limit (its stored messages wait for its next connect)',
    );
  };
  const handleConnection = (stream: Duplex, request?: http.IncomingMessage): void => {
    const guard = new PacketSizeGuard(options.limits.maxPacketBytes);
    coalesceWrites(stream, outgoingLimit);
    holdAcks(stream);
    // Aedes keeps `req` for the connection's lifetime and Hush reads only the remote address from it
    // (access.ts), so it gets that instead of the whole upgrade request with its headers (about 2 KB per
    // idle WebSocket connection in `hush bench`).
    const req =
      request && ({ socket: { remoteAddress: request.socket.remoteAddress } } as http.IncomingMessage);
    const client = aedes.handle(stream, req) as Client & { _parser: MqttParser };
    const parser = client._parser;
    parser._list = new ParserBufferList();
    const parse = parser.parse.bind(parser);
    // Checked before mqtt-packet buffers anything, see limits/packet-guard.ts.
    parser.parse = (buf: Buffer) => {
      const problem = guard.check(buf);
      if (problem === undefined) {
        const result = parse(buf);
        // mqtt-packet keeps the whole CONNECT packet as its settings for the connection's lifetime, and
        // with it the password and a slice that pins the received chunk. It reads only these two fields.
        if (parser.settings.cmd === 'connect') {
          parser.settings = {
            protocolVersion: parser.settings.protocolVersion,
            bridgeMode: parser.settings.bridgeMode,
          };
        }
        return result;
      }
      log.warn({ clientId: client.id, reason: problem }, 'connection closed: packet refused');
      stream.destroy();
      return 0;
    };
  };

  const servers: Array<net.Server | http.Server> = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  let mqttPort: number | undefined;
  let wsPort: number | undefined;
  try {
    if (options.mqttPort !== undefined) {
      const tcp = await listenTcp(options.host, options.mqttPort, tlsMaterial, (s) => handleConnection(s));
      servers.push(tcp.server);
      mqttPort = tcp.port;
    }
    if (options.wsPort !== undefined) {
      const ws = await listenWebSocket(
        options.host,
        options.wsPort,
        tlsMaterial,
        options.limits.maxPacketBytes,
        handleConnection,
      );
      servers.push(ws.server);
      wsPort = ws.port;
    }
  } catch (error) {
    await closeAll();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await clock.close();
    await store.close();
    throw error;
  }
  const scheme = tlsMaterial ? ['mqtts', 'wss'] : ['mqtt', 'ws'];
  log.info(
    {
      mqtt: mqttPort !== undefined ? `${scheme[0]}://${options.host}:${mqttPort}` : undefined,
      ws: wsPort !== undefined ? `${scheme[1]}://${options.host}:${wsPort}/mqtt` : undefined,
      aclFile: options.aclFile,
      passwordFile: options.passwordFile,
      anonymous: options.allowAnonymous && !passwords,
      durable: options.dataDir !== undefined,
    },
    'broker listening',
  );

  const expireSessions = async (now = Date.now()): Promise<number> => {
    const expired = clock.expired(options.limits.sessionExpirySeconds * 1000, now);
    for (const clientId of expired) {
      if ((aedes as unknown as { clients: Record<string, unknown> }).clients[clientId]) continue;
      const dropped = await dropSession(store.persistence, clientId);
      quota.forget(clientId);
      access.forgetSession(clientId);
      clock.forget(clientId);
      log.info({ clientId, droppedMessages: dropped }, 'persistent session expired');
    }
    return expired.length;
  };
  const sweepEvery = Math.min(60_000, options.limits.sessionExpirySeconds * 100);
  let sweeping = false;
  const sweepTimer = setInterval(() => {
    // A sweep that outlasts the interval (a slow disk, many sessions) must not be joined by a second one
    // dropping the same sessions again.
    if (sweeping) return;
    sweeping = true;
    expireSessions()
      .catch((error: Error) => log.error({ reason: error.message }, 'session expiry failed'))
      .finally(() => (sweeping = false));
  }, sweepEvery);
  sweepTimer.unref();

  return {
    options,
    mqttPort,
    wsPort,
    tls: tlsMaterial !== undefined,
    aedes,
    handleConnection,
    attachWebSocket(server) {
      attachMqttWebSocket(server, options.limits.maxPacketBytes, handleConnection);
    },
    async reload() {
      let files: [AclFile | undefined, PasswordTable | undefined];
      try {
        files = await loadPolicyFiles(options);
      } catch (error) {
        log.error(
          { reason: (error as Error).message },
          'reload refused: keeping the previous acl and password files',
        );
        return false;
      }
      const clients = Object.values((aedes as unknown as { clients: Record<string, Client> }).clients);
      const toClose = await access.reload(files[0], files[1], clients);
      for (const client of toClose) {
        log.info(
          { clientId: client.id },
          'client disconnected: its user was removed or its password changed',
        );
        client.close();
      }
      log.info({ disconnected: toClose.length }, 'acl and password files reloaded');
      return true;
    },
    expireSessions,
    async setPasswords(table) {
      const clients = Object.values((aedes as unknown as { clients: Record<string, Client> }).clients);
      const toClose = await access.reload(access.currentAcl, table, clients);
      for (const client of toClose) {
        log.info(
          { clientId: client.id },
          'client disconnected: its user was removed or its password changed',
        );
        client.close();
      }
    },
    async provisionSession(clientId, topics) {
      const persistence = store.persistence as unknown as {
        addSubscriptions(client: { id: string }, subs: Array<{ topic: string; qos: number }>): Promise<void>;
      };
      await persistence.addSubscriptions(
        { id: clientId },
        topics.map((topic) => ({ topic, qos: 1 })),
      );
      clock.disconnected(clientId);
    },
    async removeSession(clientId) {
      const client = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
      if (client) await new Promise<void>((resolve) => client.close(() => resolve()));
      await dropSession(store.persistence, clientId);
      quota.forget(clientId);
      access.forgetSession(clientId);
      clock.forget(clientId);
    },
    async close() {
      // Imported here so this method stays the only part of the file shutdown touches.
      const { closeConnections } = await import('./shutdown.ts');
      clearInterval(sweepTimer);
      guard.stop();
      // No new connections from here on; each server's close callback runs once its last connection is gone.
      const listenersClosed = closeAll();
      for (const server of servers) (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      // Every MQTT client is told the server is going away (WebSocket 1001, TCP end) and given a short grace;
      // TCP connections are recorded under their server, WebSocket ones under handleConnection (shutdown.ts).
      const { told, destroyed } = await closeConnections([...servers, handleConnection]);
      if (told > 0) log.info({ told, destroyed }, 'clients disconnected: server shutting down');
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await listenersClosed;
      await clock.close();
      await store.close();
    },
  };
}
