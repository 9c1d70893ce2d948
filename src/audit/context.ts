/**
 * What a check works with: the roles (attacker, victim, impostor), connections that are closed for it
 * when it ends, canaries, and the shared steps most checks repeat (a victim listening on its inbox, a
 * canary that provably reached it). A step that cannot be carried out throws Inconclusive, which the
 * suite turns into an 'inconclusive' finding — never into a pass.
 */
import { fingerprint, isCanary, newCanary, randomClientId } from './canary.ts';
import {
  AuditConnection,
  describeConnack,
  openConnectionPatiently,
  type ConnectOutcome,
  type ConnectRequest,
  type ConnectionSettings,
  type ReceivedMessage,
} from './connection.ts';
import { inboxTopic, type ResolvedTarget } from './target.ts';
import type { CheckResult, Credentials, Severity, Verdict } from './types.ts';

/** Thrown by a step that could not be carried out; the check's finding becomes 'inconclusive'. */
export class Inconclusive extends Error {}

/** The victim of one check: a client id, the credentials it connects with, and its inbox topic. */
export interface VictimIdentity {
  clientId: string;
  username?: string;
  password?: string;
  inbox: string;
}

/** A victim connected and subscribed to its exact inbox. */
export interface ListeningVictim {
  identity: VictimIdentity;
  connection: AuditConnection;
}

/** State shared by all checks of one run. */
export interface RunState {
  target: ResolvedTarget;
  settings: ConnectionSettings;
  /** How long "nothing arrives" is waited for after the owner got its copy. */
  settleMs: number;
  /** Every random client id the run gave a victim, to recognise them in $SYS payloads. */
  victimIds: Set<string>;
}

/** Describes a failed connect for a finding. */
export function describeOutcome(outcome: ConnectOutcome): string {
  switch (outcome.kind) {
    case 'accepted':
      return outcome.connection.sessionPresent ? 'accepted (session present)' : 'accepted';
    case 'refused':
      return `refused at CONNACK, ${outcome.reason}`;
    case 'closed':
      return 'connection closed by the broker before CONNACK';
    case 'failed':
      return `connect failed: ${outcome.reason}`;
  }
}

/** A CheckResult with the severity a verdict implies unless one is given. */
export function result(
  verdict: Verdict,
  observed: string,
  why: string,
  fix: string,
  severity?: Severity,
): CheckResult {
  const implied: Severity = verdict === 'leak' ? 'critical' : verdict === 'weakness' ? 'medium' : 'info';
  return { verdict, severity: severity ?? implied, observed, why, fix };
}

/** The per-check view of a run. */
export class CheckContext {
  private readonly connections = new Set<AuditConnection>();
  private readonly cleanups: Array<() => Promise<unknown>> = [];
  private finished = false;

  constructor(
    private readonly run: RunState,
    readonly checkId: string,
  ) {}

  /** The validated target (URL, TLS options, credentials). */
  get target(): ResolvedTarget {
    return this.run.target;
  }

  get timeoutMs(): number {
    return this.run.target.timeoutMs;
  }

  get settleMs(): number {
    return this.run.settleMs;
  }

  get inboxPattern(): string {
    return this.run.target.inboxPattern;
  }

  get attackerCredentials(): Credentials {
    return this.run.target.attacker;
  }

  /** True when the victim has its own account (its client id is then its username). */
  get victimHasAccount(): boolean {
    return this.run.target.victim.username !== undefined;
  }

  /** True when the caller named the same account for attacker and victim: an impostor is then the owner. */
  get sameAccountGiven(): boolean {
    const { attacker, victim } = this.run.target;
    return victim.username !== undefined && victim.username === attacker.username;
  }

  /** True when any credentials were given: the deployment uses accounts. */
  get usesAccounts(): boolean {
    const { attacker, victim } = this.run.target;
    return attacker.username !== undefined || victim.username !== undefined;
  }

  /** A fresh victim: its own account (id = username) or the attacker's credentials with a random id. */
  newVictim(): VictimIdentity {
    const { attacker, victim } = this.run.target;
    const creds = victim.username !== undefined ? victim : attacker;
    const clientId = victim.username ?? randomClientId();
    // Only random ids are secrets worth spotting in $SYS; a username may be a common word.
    if (victim.username === undefined) this.run.victimIds.add(clientId);
    return { clientId, ...creds, inbox: inboxTopic(this.inboxPattern, clientId) };
  }

  /** A CONNECT with the attacker's credentials and the given (default: random) client id. */
  attacker(clientId = randomClientId(), extra: Partial<ConnectRequest> = {}): ConnectRequest {
    return { ...this.run.target.attacker, clientId, ...extra };
  }

  /** A CONNECT as the victim itself. */
  asVictim(victim: VictimIdentity, extra: Partial<ConnectRequest> = {}): ConnectRequest {
    const request: ConnectRequest = { clientId: victim.clientId, ...extra };
    if (victim.username !== undefined) request.username = victim.username;
    if (victim.password !== undefined) request.password = victim.password;
    return request;
  }

  /** A fresh canary for this check. */
  canary(): string {
    return newCanary(this.checkId);
  }

  /** Connects and reports the outcome; an accepted connection is closed when the check ends. */
  async connect(request: ConnectRequest): Promise<ConnectOutcome> {
    const outcome = await openConnectionPatiently(this.run.settings, request);
    if (outcome.kind === 'accepted') {
      if (this.finished) {
        // The check outlived its deadline: nothing may stay open behind the suite's back.
        await outcome.connection.end();
        throw new Inconclusive('the check already ended');
      }
      this.connections.add(outcome.connection);
    }
    return outcome;
  }

  /** Connects or gives up on the check as inconclusive, naming the role that could not connect. */
  async mustConnect(role: string, request: ConnectRequest): Promise<AuditConnection> {
    const outcome = await this.connect(request);
    if (outcome.kind === 'accepted') return outcome.connection;
    const hint =
      outcome.kind === 'refused' && (outcome.code === 4 || outcome.code === 5)
        ? ` (give ${role === 'victim' ? '--victim-username/--victim-password' : '--username/--password'} the broker accepts)`
        : '';
    throw new Inconclusive(`the ${role} could not connect: ${describeOutcome(outcome)}${hint}`);
  }

  /** Connects a victim and subscribes it to its exact inbox (the one subscription Hush clients make). */
  async listeningVictim(
    victim = this.newVictim(),
    extra: Partial<ConnectRequest> = {},
  ): Promise<ListeningVictim> {
    const connection = await this.mustConnect('victim', this.asVictim(victim, extra));
    const outcome = await connection.subscribe(victim.inbox);
    if (outcome !== 'granted') {
      throw new Inconclusive(
        `the victim could not subscribe to its own inbox (${outcome === 'refused' ? 'SUBACK 0x80' : 'no SUBACK'})`,
      );
    }
    return { identity: victim, connection };
  }

  /**
   * Publishes a canary to the victim's inbox from `from` (default: the victim itself) and waits until the
   * victim has it: the control that proves the traffic really flowed, so silence elsewhere means something.
   */
  async deliverCanary(victim: ListeningVictim, canary: string, from = victim.connection): Promise<void> {
    const published = await from.publish(victim.identity.inbox, canary, { qos: 1 });
    const arrived = await victim.connection.waitForMessage(
      (m) => m.payload.toString() === canary,
      this.timeoutMs,
    );
    if (!arrived) {
      const why = victim.connection.droppedByBroker
        ? 'the victim was disconnected by the broker'
        : published === 'failed'
          ? 'the canary publish was not acknowledged'
          : `the canary did not reach the victim within ${this.timeoutMs} ms`;
      throw new Inconclusive(`control failed: ${why}${this.sharedAccountHint()}`);
    }
  }

  /** Gives up if an observer connection was dropped before it could have seen a leak. */
  requireAlive(connection: AuditConnection, role: string): void {
    if (connection.droppedByBroker) {
      throw new Inconclusive(
        `the ${role} was disconnected by the broker before the check ended${this.sharedAccountHint()}`,
      );
    }
  }

  private sharedAccountHint(): string {
    const { attacker, victim } = this.run.target;
    const sharedUsername =
      attacker.username !== undefined && (victim.username ?? attacker.username) === attacker.username;
    return sharedUsername
      ? '; attacker and victim share one account, which brokers with use_username_as_clientid treat as one client: give the victim its own account'
      : '';
  }

  /** Canary messages (of this run or any other audit) among what a connection received. */
  canariesReceived(connection: AuditConnection): ReceivedMessage[] {
    return connection.messages.filter((m) => isCanary(m.payload));
  }

  /** "canary #1a2b3c4d on the victim's inbox" for the first canary received, without its content. */
  describeCanaries(messages: ReceivedMessage[], victimInbox?: string): string {
    const first = messages.find((m) => m.topic === victimInbox) ?? messages[0];
    if (!first) return 'no canary';
    const where = first.topic === victimInbox ? "the victim's inbox" : 'another inbox of this audit';
    const more = messages.length > 1 ? ` (${messages.length} canary messages in all)` : '';
    return `canary #${fingerprint(first.payload)} from ${where}${first.retain ? ' (retained)' : ''}${more}`;
  }

  /** A short count of non-canary traffic: other people's messages are never shown, not even their topics. */
  describeOtherTraffic(connection: AuditConnection): string {
    const others = connection.messages.filter((m) => !isCanary(m.payload));
    if (others.length === 0) return '';
    const topics = new Set(others.map((m) => m.topic)).size;
    return `; also received ${others.length} other message(s) on ${topics} topic(s), not shown`;
  }

  /** Client ids this run gave victims, to spot them in broker status payloads. */
  get victimIds(): ReadonlySet<string> {
    return this.run.victimIds;
  }

  /** Runs fn when the check ends (after its connections close), even after a timeout. */
  defer(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn);
  }

  /** Connects without tracking: for clean-ups, which run after the check's connections are closed. */
  connectUntracked(request: ConnectRequest): Promise<ConnectOutcome> {
    return openConnectionPatiently(this.run.settings, request);
  }

  /** Removes a retained message (empty retained publish) with its own short-lived connection. */
  async clearRetained(topic: string, request: ConnectRequest): Promise<void> {
    const outcome = await this.connectUntracked(request);
    if (outcome.kind !== 'accepted') return;
    await outcome.connection.publish(topic, '', { qos: 1, retain: true });
    await outcome.connection.end();
  }

  /** Closes every connection the check opened, then runs its deferred clean-ups, newest first. */
  async close(): Promise<void> {
    this.finished = true;
    await Promise.all([...this.connections].map((c) => c.end()));
    this.connections.clear();
    for (const cleanup of this.cleanups.reverse()) {
      await cleanup().catch(() => undefined);
    }
    this.cleanups.length = 0;
  }
}

/** Describes a CONNACK refusal code for findings (re-exported for checks). */
export { describeConnack };
