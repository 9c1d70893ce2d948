/**
 * Types of the outsider attack suite: what the auditor is given (AuditTarget), what each check
 * reports (Finding) and how a check is declared (AttackCheck). A finding never carries leaked
 * content: `observed` holds at most a short fingerprint of a canary the auditor made itself.
 */
import type { CheckContext } from './context.ts';

/** Credentials of one party; both absent = anonymous. */
export interface Credentials {
  username?: string;
  password?: string;
}

/** A broker to attack and what an outsider holds. */
export interface AuditTarget {
  /** mqtt://, mqtts://, ws:// or wss:// (WebSocket URLs keep their path, e.g. ws://host:8083/mqtt). */
  url: string;
  /** What the attacker holds: what a web page would hold (anonymous, or shared credentials). */
  attacker: Credentials;
  /**
   * A second account that plays the victim, for brokers that need one. With a username, the victim's
   * client id is its username (use_username_as_clientid brokers); without, the victim connects with the
   * attacker's credentials and a fresh random client id, as a seed-mode web page does.
   */
  victim: Credentials;
  /** Where inboxes live; `%c` is replaced by the client id, e.g. 'chats/%c/messages'. */
  inboxPattern: string;
  /** Extra CA certificate(s) for mqtts:// and wss://. */
  ca?: Buffer;
  /** Skip TLS certificate verification (reported by the transport check). */
  insecure?: boolean;
  /**
   * For TLS targets: ports of the same host probed for a plain MQTT listener. Default none: only ports the
   * caller names are probed (another program may own 1883 on that host).
   */
  plainPorts?: number[];
  /** Bound on each single step (connect, subscribe, waiting for the canary); default 5000 ms. */
  timeoutMs?: number;
}

/**
 * pass: the attack was carried out and failed. leak: canary content reached the attacker or an impostor.
 * weakness: no content leaked but the broker allowed something it should not. inconclusive: the check
 * could not be carried out (never counted as a pass). info: a fact worth knowing that changes nothing.
 */
export type Verdict = 'pass' | 'leak' | 'weakness' | 'inconclusive' | 'info';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** The result of one named check. */
export interface Finding {
  /** Stable check id, e.g. 'wildcard-all' or 'takeover-persistent'. */
  id: string;
  title: string;
  verdict: Verdict;
  severity: Severity;
  /** What was seen on the wire; never leaked content, at most a canary fingerprint. */
  observed: string;
  /** Why this matters. */
  why: string;
  /** The concrete fix (Mosquitto config or aclfile line), or what to do next. */
  fix: string;
}

/** What a check returns; the suite adds the id and title. */
export type CheckResult = Omit<Finding, 'id' | 'title'>;

/** One named attack: a small async function over a CheckContext. */
export interface AttackCheck {
  id: string;
  title: string;
  /** True for checks that need no victim; the others are skipped as inconclusive when no victim can be set up. */
  standalone?: boolean;
  /** Its deadline when longer than the usual four step timeouts (checks that pace a bounded load). */
  deadlineMs?: (timeoutMs: number) => number;
  run(ctx: CheckContext): Promise<CheckResult>;
}
