/**
 * Kill -9 in the middle of a chat: `hush broker --data-dir` is killed with SIGKILL while an SDK sender (FileStore
 * profile, so its outbox is on disk) streams QoS 1 texts to an SDK receiver, and restarted on the same data
 * directory and port. Reports what the receiving app was shown: delivered, duplicated, out of order, missing.
 *
 *   npx tsx scripts/fault-kill9.ts [--count 10000] [--kills 1] [--window 100]
 *
 * test/integration/fault-kill9.test.ts runs the same scenario with a smaller count.
 */
import { rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startHushBroker, type HushBrokerInstance } from '../test/helpers/hush-broker.ts';
import type { HushClient } from '../src/client/hush-client.ts';
import {
  CHAT_ACL,
  DeliveryLedger,
  ProfileDirs,
  makeAccounts,
  openChat,
  openDevice,
  sendPaced,
  waitUntil,
  sleep,
  type SenderFigures,
} from './fault-harness.ts';

export interface Kill9Result {
  count: number;
  kills: number;
  /** How many texts the sender had handed to the SDK when each kill happened. */
  killedAt: number[];
  figures: SenderFigures[];
  warnings: Record<string, number>;
  /** Sender copies still waiting for a PUBACK at the end (0 = every message acknowledged). */
  pendingAtEnd: number;
  elapsedMs: number;
  /** Lines of the brokers' logs at warn level or above. */
  brokerProblems: string[];
}

/** Runs the scenario; throws (with the figures) if the receiver never sees every message. */
export async function runKill9(options: {
  count: number;
  kills?: number;
  window?: number;
  /** Time allowed for the whole exchange. */
  timeoutMs?: number;
  /** Prints a line on stderr every 1,000 messages. */
  progress?: boolean;
}): Promise<Kill9Result> {
  const { count } = options;
  const kills = options.kills ?? 1;
  const started = Date.now();
  const profiles = new ProfileDirs();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hush-fault-data-'));
  const { accounts, passwordFile } = await makeAccounts(2);
  const brokerOptions = {
    acl: CHAT_ACL,
    passwordFile,
    allowAnonymous: false,
    dataDir,
    // The sender publishes faster than the default 200 per second; the receiver's receipts keep pace with it.
    extraArgs: ['--publish-rate', '0'],
    env: { HUSH_LOG_LEVEL: 'info' },
  };
  const brokers: HushBrokerInstance[] = [];
  let broker = await startHushBroker(brokerOptions);
  brokers.push(broker);
  const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  const clients: HushClient[] = [];
  let restarting: Promise<void> = Promise.resolve();
  const killedAt: number[] = [];
  try {
    const sender = await openDevice({
      brokerUrl: url,
      account: accounts[0]!,
      name: 'sender',
      store: await profiles.fileStore(),
    });
    clients.push(sender);
    const receiver = await openDevice({ brokerUrl: url, account: accounts[1]!, name: 'receiver' });
    clients.push(receiver);
    const chatId = await openChat(sender, receiver);
    const ledger = new DeliveryLedger();
    ledger.watch(receiver);
    const states: Record<string, string[]> = { sender: [], receiver: [] };
    sender.on('connection', ({ state }) => states.sender!.push(state));
    receiver.on('connection', ({ state }) => states.receiver!.push(state));
    const withStates = (error: Error) => {
      throw new Error(`${error.message}\nconnection states: ${JSON.stringify(states)}`);
    };

    const killPoints = new Set(
      Array.from({ length: kills }, (_, k) => Math.floor((count * (k + 1)) / (kills + 1))),
    );
    const finished = sendPaced({
      sender,
      chatId,
      label: 'sender',
      count,
      ledger,
      ...(options.window !== undefined ? { window: options.window } : {}),
      onProgress: async (sent) => {
        if (options.progress && sent % 1000 === 0)
          process.stderr.write(
            `fault-kill9: ${sent} sent, ${ledger.total} shown, ${Date.now() - started} ms\n`,
          );
        if (!killPoints.has(sent)) return;
        // The previous restart must be complete before the next kill.
        await restarting;
        killedAt.push(sent);
        const victim = broker;
        restarting = (async () => {
          await victim.kill();
          broker = await startHushBroker({ ...brokerOptions, mqttPort: victim.mqttPort });
          brokers.push(broker);
        })();
      },
    });
    await finished.catch(withStates);
    await restarting;
    const timeoutMs = options.timeoutMs ?? 120_000;
    await waitUntil(
      () => ledger.complete(),
      timeoutMs,
      () => `receiver incomplete: ${JSON.stringify(ledger.figures())}`,
    ).catch(withStates);
    await waitUntil(
      () => sender.pendingOutgoing(chatId) === 0,
      timeoutMs,
      () => `sender outbox never drained: ${sender.pendingOutgoing(chatId)} copies`,
    ).catch(withStates);
    // A late redelivery would show up now.
    await sleep(500);
    return {
      count,
      kills,
      killedAt,
      figures: ledger.figures(),
      warnings: ledger.warningCounts(),
      pendingAtEnd: sender.pendingOutgoing(chatId),
      elapsedMs: Date.now() - started,
      brokerProblems: brokers.flatMap((b) =>
        b
          .log()
          .split('\n')
          .filter((line) => /"level":(40|50|60)/.test(line)),
      ),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await restarting.catch(() => undefined);
    for (const b of brokers) {
      await b.stop();
      await rm(b.dir, { recursive: true, force: true });
    }
    await rm(dataDir, { recursive: true, force: true });
    await profiles.removeAll();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '10000' },
      kills: { type: 'string', default: '1' },
      window: { type: 'string', default: '100' },
    },
  });
  const result = await runKill9({
    count: Number(values.count),
    kills: Number(values.kills),
    window: Number(values.window),
    timeoutMs: 600_000,
    progress: true,
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const bad = result.figures.some((f) => f.delivered !== f.sent || f.duplicated > 0 || f.outOfOrder > 0);
  process.exitCode = bad ? 1 : 0;
}
