/**
 * Who may connect and what each connected client may read and write: the password file, the aclfile
 * and Hush's stricter rules, turned into the Aedes hooks. Everything that decides a verdict is here so
 * the order of checks can be read in one place.
 *
 * Per client, the aclfile is compiled once at CONNECT (compileClientAcl) because the READ check runs for
 * every delivered message, live, retained and queued.
 */
import type { Client, AuthenticateError, AedesPublishPacket, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { compileClientAcl, topicMatchesFilter, type AclFile, type ClientAcl } from './acl/index.ts';
import { VerifiedPasswordCache, verifyPassword, type PasswordTable } from './passwd/index.ts';
import { clientIdProblem } from './client-id.ts';
import { KeyedTokenBuckets, TokenBucket } from './limits/token-bucket.ts';
import { addressKey } from './limits/client-address.ts';
import type { ResolvedBrokerOptions } from './options.ts';

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnackCode = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** Topic that denied publishes are redirected to: nobody can subscribe to it (see authorizePublish). */
export const DROPPED_TOPIC = '$hush/dropped';

interface ClientState {
  username: string | undefined;
  /** The stored hash the client authenticated against, to notice a password change on reload. */
  storedHash: string | undefined;
  /**
   * The password it gave, kept in memory only, so a reload re-checks it against a rewritten entry as
   * Mosquitto does (comparing hashes alone would drop users whose unchanged password was re-salted).
   */
  password: string | undefined;
  acl: ClientAcl;
  publishBucket: TokenBucket;
}

interface PendingConnect {
  refusal?: { code: number; reason: string };
  clientIdGiven: string;
}

/** A client may do anything outside `$` topics: Mosquitto's behaviour without acl_file. */
const OPEN_ACL: ClientAcl = {
  canRead: () => true,
  canWrite: (topic) => !topic.startsWith('$'),
  canSubscribe: (filter) => !filter.startsWith('$'),
};

function refusal(code: number, reason: string): AuthenticateError {
  const error = new Error(reason) as AuthenticateError;
  error.returnCode = code;
  return error;
}

function topicLevels(topic: string): number {
  let levels = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) levels++;
  return levels;
}

/**
 * MQTT 3.1.1 §4.7.2: `#` or `+` at the start of a filter never match a `$` topic. Aedes applies this to
 * live messages but not to retained or queued ones, so a `$` topic is delivered only to a client holding
 * a `$` filter that matches it. Rare (Hush refuses `$` subscriptions the aclfile does not grant), so a
 * scan of the client's filters is fine.
 */
function hasDollarSubscription(client: Client, topic: string): boolean {
  const subscriptions = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
  for (const filter in subscriptions) {
    if (filter.charCodeAt(0) === 36 && topicMatchesFilter(filter, topic)) return true;
  }
  return false;
}

/**
 * Remote address of an Aedes client, for TCP, TLS and WebSocket connections alike. For a WebSocket the broker
 * puts the client's address in `req` (behind a trusted proxy, the one X-Forwarded-For names: see
 * limits/client-address.ts).
 */
export function remoteAddress(client: Client): string {
  const conn = client.conn as { remoteAddress?: string };
  return client.req?.socket?.remoteAddress ?? conn.remoteAddress ?? 'unknown';
}

/** The broker's access policy; `reload` swaps files in while connections stay up. */
export class AccessControl {
  private readonly clients = new WeakMap<Client, ClientState>();
  private readonly pending = new WeakMap<Client, PendingConnect>();
  /** ACL of every session seen, including offline ones, for the READ check when queueing. */
  private readonly sessionAcls = new Map<string, ClientAcl>();
  /*
   * Connect limits, fair to neighbours behind one NAT or proxy (docs/SECURITY.md, "Connect rate limits"):
   * - a client with an account (username + password file) whose password is right draws only from its own
   *   per-account bucket (accountConnects), never from its address's: nobody else can drain it without the
   *   password;
   * - each password check that fails costs its client address (IPv4 address, IPv6 /64) a token
   *   (failedByAddress): the token is taken before the PBKDF2 check and given back when the password is right,
   *   so only failures count. Once an address is out of tokens its password checks stop there, except
   *   against an existing account that still has failure tokens of its own (failedByAccount): a bad-password
   *   storm from one address then costs no more PBKDF2 than its rate, and does not stop a neighbour
   *   from logging in to an account nobody is attacking;
   * - a password verified before (VerifiedPasswordCache) needs no PBKDF2 and no failure token at all, so a
   *   device that has connected once gets back in even while its own account is under attack;
   * - clients without an account (anonymous brokers) have only their address: addressConnects.
   */
  private readonly addressConnects: KeyedTokenBuckets;
  private readonly accountConnects: KeyedTokenBuckets;
  private readonly failedByAddress: KeyedTokenBuckets;
  private readonly failedByAccount: KeyedTokenBuckets;
  private readonly connectLimitsOn: boolean;
  private readonly verified: VerifiedPasswordCache;

  constructor(
    private readonly options: ResolvedBrokerOptions,
    private acl: AclFile | undefined,
    private passwords: PasswordTable | undefined,
    private readonly log: Logger,
    private readonly connectedClients: () => number,
  ) {
    const l = options.limits;
    this.connectLimitsOn = l.connectsPerSecondPerAddress !== 0;
    this.addressConnects = new KeyedTokenBuckets(l.connectsPerSecondPerAddress, l.connectBurstPerAddress);
    this.accountConnects = new KeyedTokenBuckets(l.connectsPerSecondPerAccount, l.connectBurstPerAccount);
    this.failedByAddress = new KeyedTokenBuckets(
      l.failedLoginsPerSecondPerAddress,
      l.failedLoginsBurstPerAddress,
    );
    this.failedByAccount = new KeyedTokenBuckets(
      l.failedLoginsPerSecondPerAccount,
      l.failedLoginsBurstPerAccount,
    );
    this.verified = new VerifiedPasswordCache(l.verifiedPasswordCacheSize);
  }

  /** The aclfile in force (for callers that replace only the password table). */
  get currentAcl(): AclFile | undefined {
    return this.acl;
  }

  /** With a password file the username becomes the client id, as Mosquitto's use_username_as_clientid. */
  get usernameIsClientId(): boolean {
    return this.passwords !== undefined;
  }

  /** Aedes preConnect: cheap checks before any password hashing; decides the effective client id. */
  preConnect = (
    client: Client,
    packet: { clientId: string; clean: boolean; username?: string; will?: { retain?: boolean } },
    done: (error: Error | null, ok: boolean) => void,
  ): void => {
    if (packet.will?.retain && !this.options.retainAvailable) {
      // As Mosquitto with retain_available false: a retained will is refused at CONNECT (no CONNACK in
      // MQTT 3.1.1 says why), rather than accepted and silently dropped when it fires.
      this.log.warn(
        { clientId: packet.clientId },
        'connection refused: retained will, and retained messages are not accepted',
      );
      return done(new Error('retained wills are not accepted'), false);
    }
    const pending: PendingConnect = { clientIdGiven: packet.clientId };
    this.pending.set(client, pending);
    const refuse = (code: number, reason: string) => {
      pending.refusal = { code, reason };
    };
    // Clients with an account are limited per account in authenticate, after their password is known right.
    const hasAccount = this.passwords !== undefined && packet.username !== undefined;
    const key = hasAccount ? '' : addressKey(remoteAddress(client));
    if (!hasAccount && this.connectLimitsOn && !this.addressConnects.take(key)) {
      refuse(ConnackCode.serverUnavailable, `too many connects from ${key}`);
    } else if (this.connectedClients() >= this.options.limits.maxConnections) {
      refuse(
        ConnackCode.serverUnavailable,
        `connection limit of ${this.options.limits.maxConnections} reached`,
      );
    } else if (this.usernameIsClientId && packet.username !== undefined) {
      // Knowing a client id must not let anyone take over its session: the authenticated username
      // is the id. Replaced here because Aedes reads packet.clientId after preConnect.
      packet.clientId = packet.username;
    }
    if (!pending.refusal) {
      if (packet.clientId === '') {
        if (!packet.clean) {
          refuse(
            ConnackCode.identifierRejected,
            'an empty client id needs a clean session (MQTT 3.1.1 §3.1.3.1)',
          );
        }
      } else {
        const problem = clientIdProblem(packet.clientId);
        if (problem) refuse(ConnackCode.identifierRejected, problem);
      }
    }
    done(null, true);
  };

  /** Aedes authenticate: applies a refusal decided in preConnect, then checks the password. */
  authenticate = (
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, ok: boolean | null) => void,
  ): void => {
    const pending = this.pending.get(client);
    this.pending.delete(client);
    const reject = (code: number, reason: string) => {
      this.log.warn(
        { clientId: pending?.clientIdGiven, username, address: remoteAddress(client), code },
        `connection refused: ${reason}`,
      );
      done(refusal(code, reason), false);
    };
    if (pending?.refusal) return reject(pending.refusal.code, pending.refusal.reason);

    if (username === undefined) {
      // As Mosquitto with use_username_as_clientid: an anonymous client could otherwise pick a
      // registered user's id and take over that session.
      if (this.usernameIsClientId) return reject(ConnackCode.notAuthorized, 'a username is required');
      if (!this.options.allowAnonymous)
        return reject(ConnackCode.notAuthorized, 'anonymous clients are not allowed');
      this.admit(client, undefined, undefined);
      return done(null, true);
    }
    if (!this.passwords) {
      // Mosquitto without a password file accepts any username when anonymous access is on.
      this.admit(client, username, undefined);
      return done(null, true);
    }
    const stored = this.passwords.entries.get(username);
    const passwordText = password?.toString('utf8') ?? '';
    const admitAccount = (storedHash: string) => {
      if (this.connectLimitsOn && !this.accountConnects.take(username))
        return reject(ConnackCode.serverUnavailable, `too many connects for user ${username}`);
      this.admit(client, username, storedHash, passwordText);
      done(null, true);
    };
    if (stored !== undefined && this.verified.has(username, stored, passwordText))
      return admitAccount(stored);

    // A password check costs PBKDF2: reserve a failure token first (given back if the password is right).
    const key = addressKey(remoteAddress(client));
    let giveBack: () => void = () => undefined;
    if (!this.connectLimitsOn || this.failedByAddress.take(key)) {
      giveBack = () => this.failedByAddress.refund(key);
    } else if (stored !== undefined && this.failedByAccount.take(username)) {
      giveBack = () => this.failedByAccount.refund(username);
    } else {
      return reject(
        ConnackCode.serverUnavailable,
        `too many failed logins from ${key}; password checks from there resume at a lower rate`,
      );
    }
    // Verify even for unknown users, so response time does not reveal which usernames exist.
    const storedOrDecoy = stored ?? '$7$101$AAAAAAAAAAAAAAAA$' + 'A'.repeat(86) + '==';
    verifyPassword(passwordText, storedOrDecoy).then(
      (ok) => {
        if (!ok || stored === undefined)
          return reject(ConnackCode.notAuthorized, 'wrong username or password');
        giveBack();
        // The table may have been replaced while PBKDF2 ran: remember only what is still the entry.
        if (this.passwords?.entries.get(username) === stored)
          this.verified.remember(username, stored, passwordText);
        admitAccount(stored);
      },
      (error: Error) => reject(ConnackCode.serverUnavailable, `password check failed: ${error.message}`),
    );
  };

  private admit(
    client: Client,
    username: string | undefined,
    storedHash: string | undefined,
    password?: string,
  ): void {
    const acl = this.compile(client.id, username);
    const { publishPerSecond, publishBurst } = this.options.limits;
    this.clients.set(client, {
      username,
      storedHash,
      password,
      acl,
      publishBucket: new TokenBucket(publishPerSecond, publishBurst),
    });
    this.sessionAcls.set(client.id, acl);
  }

  private compile(clientId: string, username: string | undefined): ClientAcl {
    return this.acl ? compileClientAcl(this.acl, { clientId, username }) : OPEN_ACL;
  }

  private aclOf(client: Client | null, clientId: string): ClientAcl {
    const state = client ? this.clients.get(client) : undefined;
    if (state) return state.acl;
    return (
      this.sessionAcls.get(clientId) ?? this.compile(clientId, this.usernameIsClientId ? clientId : undefined)
    );
  }

  /** Aedes authorizePublish, for client publishes and wills. */
  authorizePublish = (
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void => {
    const topic = packet.topic;
    const clientId = client?.id ?? (packet as { clientId?: string }).clientId ?? '';
    const state = client ? this.clients.get(client) : undefined;
    if (state && !state.publishBucket.take()) {
      this.log.warn({ clientId, topic }, 'client disconnected: publish rate limit exceeded');
      return done(new Error('publish rate limit exceeded'));
    }
    if (topicLevels(topic) > this.options.limits.maxTopicLevels) {
      return done(new Error(`topic has more than ${this.options.limits.maxTopicLevels} levels`));
    }
    if (packet.retain && !this.options.retainAvailable) {
      this.log.warn(
        { clientId, topic },
        'client disconnected: retained messages are not accepted by this broker',
      );
      return done(new Error('retained messages are not accepted'));
    }
    const denied =
      topic.startsWith('$SYS') || topic.startsWith('$share') || !this.aclOf(client, clientId).canWrite(topic);
    if (denied) {
      // Mosquitto drops a denied PUBLISH silently and still acknowledges QoS 1; Aedes would close the
      // connection on an error. Redirecting to a topic nobody may subscribe to keeps Mosquitto's behaviour.
      this.log.debug({ clientId, topic }, 'publish denied by ACL');
      packet.topic = DROPPED_TOPIC;
      packet.retain = false;
    }
    done(null);
  };

  /** Aedes authorizeSubscribe: grants as Mosquitto does, but refuses `$` filters the aclfile does not grant. */
  authorizeSubscribe = (
    client: Client,
    subscription: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void => {
    const filter = subscription.topic;
    if (
      topicLevels(filter) > this.options.limits.maxTopicLevels ||
      !this.aclOf(client, client.id).canSubscribe(filter)
    ) {
      this.log.info({ clientId: client.id, filter }, 'subscription refused');
      return done(null, null);
    }
    done(null, subscription);
  };

  /** Aedes authorizeForward: the READ check on every delivery (live, retained, queued). */
  authorizeForward = (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    const state = this.clients.get(client);
    if (!state || !state.acl.canRead(packet.topic)) return null;
    if (packet.topic.charCodeAt(0) === 36 /* $ */ && !hasDollarSubscription(client, packet.topic))
      return null;
    return packet;
  };

  /** READ check for queueing a message to a session that may be offline. */
  mayQueue = (clientId: string, topic: string): boolean => this.aclOf(null, clientId).canRead(topic);

  /** Installs new acl and password files; resolves with the clients that must be disconnected. */
  async reload(
    acl: AclFile | undefined,
    passwords: PasswordTable | undefined,
    connected: Iterable<Client>,
  ): Promise<Client[]> {
    this.acl = acl;
    this.passwords = passwords;
    this.verified.retainUnchanged(passwords);
    this.sessionAcls.clear();
    const toClose: Client[] = [];
    await Promise.all(
      [...connected].map(async (client) => {
        const state = this.clients.get(client);
        if (!state) return;
        if (passwords && state.username !== undefined) {
          const stored = passwords.entries.get(state.username);
          const password = state.password ?? '';
          const stillValid =
            stored !== undefined &&
            (stored === state.storedHash ||
              this.verified.has(state.username, stored, password) ||
              (await verifyPassword(password, stored)));
          if (stillValid && this.passwords?.entries.get(state.username) === stored)
            this.verified.remember(state.username, stored, password);
          if (!stillValid) {
            toClose.push(client);
            return;
          }
          state.storedHash = stored;
        }
        state.acl = this.compile(client.id, state.username);
        this.sessionAcls.set(client.id, state.acl);
      }),
    );
    return toClose;
  }

  /** Forgets the cached ACL of a clean session that ended, unless a newer connection with its id replaced it. */
  forgetCleanClient(client: Client): void {
    const state = this.clients.get(client);
    if (state && this.sessionAcls.get(client.id) === state.acl) this.sessionAcls.delete(client.id);
  }

  /** Forgets a session's cached ACL (after it expired or was cleaned). */
  forgetSession(clientId: string): void {
    this.sessionAcls.delete(clientId);
  }
}
