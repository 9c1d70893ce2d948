/** `hush broker`: the embedded broker alone, configured like a Mosquitto (aclfile, password file). */
import type { Command } from 'commander';
import { startBroker } from '../../broker/index.ts';
import { createCliLogger } from '../shared/logger.ts';
import { parseCount, parsePort } from '../shared/options.ts';
import { runUntilSignal } from '../shared/run-until-signal.ts';
import { UserError } from '../shared/errors.ts';

interface BrokerFlags {
  host: string;
  mqttPort: number;
  wsPort: number;
  wsListener: boolean;
  aclFile?: string;
  passwordFile?: string;
  allowAnonymous: boolean;
  tlsCert?: string;
  tlsKey?: string;
  dataDir?: string;
  retain: boolean;
  maxPacketBytes?: number;
  maxConnections?: number;
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
  maxQueuedShare?: number;
  maxOutgoingBytes?: number;
  maxMemoryMb?: number;
  publishRate?: number;
  connectRate?: number;
  sessionExpiry?: number;
  connectTimeout?: number;
  maxTopicLevels?: number;
}

/** Registers `hush broker`. */
export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the embedded MQTT broker alone (Mosquitto-format aclfile and password file)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--mqtt-port <port>', 'MQTT over TCP (or TLS) port; 0 picks one', parsePort, 1883)
    .option('--ws-port <port>', 'MQTT over WebSocket port, path /mqtt; 0 picks one', parsePort, 8083)
    .option('--no-ws-listener', 'no WebSocket listener')
    .option('--acl-file <file>', 'Mosquitto aclfile (without one, every non-$ topic is open)')
    .option('--password-file <file>', 'Mosquitto password file; the username becomes the client id')
    .option(
      '--allow-anonymous',
      'accept clients without username (needed when there is no password file)',
      false,
    )
    .option('--tls-cert <file>', 'PEM certificate: listeners become mqtts:// and wss://')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--data-dir <dir>', 'keep sessions, queued and retained messages here across restarts')
    .option('--no-retain', 'refuse retained messages (a client that sends one is disconnected)')
    .option('--max-packet-bytes <n>', 'largest MQTT packet accepted', parseCount)
    .option('--max-connections <n>', 'concurrent connections', parseCount)
    .option('--max-queued-messages <n>', 'messages kept per offline persistent session', parseCount)
    .option('--max-queued-bytes <n>', 'bytes kept per offline persistent session', parseCount)
    .option(
      '--max-queued-share <fraction>',
      "share of one session's queue a single sender may fill (0-1]",
      parseFloat,
    )
    .option(
      '--max-outgoing-bytes <n>',
      'unsent bytes one connection may hold before it is closed as a reader that stopped reading',
      parseCount,
    )
    .option('--max-memory-mb <n>', 'resident memory above which new work is refused (0 = off)', parseCount)
    .option('--publish-rate <n>', 'PUBLISH packets per second per client (0 = no limit)', parseCount)
    .option('--connect-rate <n>', 'CONNECTs per second per address (0 = no limit)', parseCount)
    .option('--session-expiry <seconds>', 'remove persistent sessions unused this long', parseCount)
    .option('--connect-timeout <ms>', 'time allowed between opening a connection and CONNECT', parseCount)
    .option(
      '--max-topic-levels <n>',
      'topic levels allowed in PUBLISH topics and SUBSCRIBE filters',
      parseCount,
    )
    .action(async (flags: BrokerFlags) => {
      const log = createCliLogger();
      const limits = Object.fromEntries(
        Object.entries({
          maxPacketBytes: flags.maxPacketBytes,
          maxConnections: flags.maxConnections,
          maxQueuedMessages: flags.maxQueuedMessages,
          maxQueuedBytes: flags.maxQueuedBytes,
          maxQueuedShare: flags.maxQueuedShare,
          maxOutgoingBytes: flags.maxOutgoingBytes,
          maxMemoryMb: flags.maxMemoryMb,
          publishPerSecond: flags.publishRate,
          connectsPerSecondPerAddress: flags.connectRate,
          sessionExpirySeconds: flags.sessionExpiry,
          connectTimeoutMs: flags.connectTimeout,
          maxTopicLevels: flags.maxTopicLevels,
        }).filter(([, v]) => v !== undefined),
      );
      let broker;
      try {
        broker = await startBroker(
          {
            host: flags.host,
            mqttPort: flags.mqttPort,
            wsPort: flags.wsListener ? flags.wsPort : undefined,
            aclFile: flags.aclFile,
            passwordFile: flags.passwordFile,
            allowAnonymous: flags.allowAnonymous,
            tlsCertFile: flags.tlsCert,
            tlsKeyFile: flags.tlsKey,
            dataDir: flags.dataDir,
            retainAvailable: flags.retain,
            limits: limits as never,
          },
          log,
        );
      } catch (error) {
        throw new UserError((error as Error).message, 1);
      }
      // SIGINT/SIGTERM: listeners stop, every client is told the server is going away, the stores are
      // flushed; within 5 s whatever is connected (run-until-signal.ts).
      const stopped = runUntilSignal(
        log,
        () => broker.reload(),
        async () => {
          await broker.close();
          process.stdout.write('hush broker stopped\n');
        },
      );
      // One line on stdout that scripts and tests can wait for, once the signal handlers are in place.
      process.stdout.write(
        `hush broker ready mqtt=${broker.mqttPort ?? '-'} ws=${broker.wsPort ?? '-'} tls=${broker.tls}\n`,
      );
      await stopped;
    });
}
