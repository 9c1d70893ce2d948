/**
 * Makes the `debug` package's disabled loggers free. mqtt-packet calls `debug(...)` about a dozen times per
 * packet (parser and writer); even when logging is off each call goes through a rest-parameter function
 * and a getter, and the argument arrays were most of the broker's garbage: `hush bench` profiles put it at
 * 8–10% of the broker's CPU per message. The `debug` package has no switch for that, so this module
 * replaces its export in Node's module cache, before mqtt-packet (or MQTT.js) first requires it, with a
 * factory that hands out a plain no-op function for every namespace not enabled at creation time.
 * `DEBUG=mqtt-packet:*` and friends keep working: enabled namespaces get the real logger. Import this
 * module before anything that loads Aedes, mqtt-packet or MQTT.js (the CLI and the broker do).
 */
import { createRequire } from 'node:module';

/** The parts of `debug`'s factory this module uses. */
interface DebugFactory {
  (namespace: string): DebugLogger;
  enabled(namespace: string): boolean;
  log?: unknown;
  [key: string]: unknown;
}

/** A logger as `debug` returns it (only what callers touch). */
export interface DebugLogger {
  (...args: unknown[]): void;
  namespace: string;
  enabled: boolean;
  extend(namespace: string, delimiter?: string): DebugLogger;
  destroy(): boolean;
}

/** Marks the cache entry as already replaced (module graphs can evaluate this file more than once). */
const kQuiet = Symbol.for('hush.quietDebug');

function quietLogger(factory: DebugFactory, namespace: string): DebugLogger {
  const logger = (() => undefined) as unknown as DebugLogger;
  logger.namespace = namespace;
  logger.enabled = false;
  logger.extend = (sub, delimiter = ':') => createLogger(factory, namespace + delimiter + sub);
  logger.destroy = () => false;
  return logger;
}

function createLogger(factory: DebugFactory, namespace: string): DebugLogger {
  return factory.enabled(namespace) ? factory(namespace) : quietLogger(factory, namespace);
}

/** Wraps `debug`'s factory: real loggers for enabled namespaces, no-op functions for the rest. */
export function quietDebugFactory(factory: DebugFactory): DebugFactory {
  const quiet = ((namespace: string) => createLogger(factory, namespace)) as DebugFactory;
  // enable(), disable(), enabled(), formatters… stay reachable through the wrapper.
  for (const key of Object.keys(factory)) quiet[key] = factory[key];
  Object.defineProperty(quiet, kQuiet, { value: true });
  return quiet;
}

/**
 * Replaces the `debug` export that mqtt-packet resolves, if it has not been replaced yet. Returns false when
 * mqtt-packet was loaded before (its loggers are then the real ones: slower, still correct).
 */
export function installQuietDebug(): boolean {
  const require = createRequire(import.meta.url);
  const fromMqttPacket = createRequire(require.resolve('mqtt-packet'));
  const debugPath = fromMqttPacket.resolve('debug');
  const factory = fromMqttPacket('debug') as DebugFactory;
  if ((factory as unknown as Record<symbol, unknown>)[kQuiet] === true) return true;
  const entry = require.cache[debugPath];
  if (entry === undefined) return false;
  entry.exports = quietDebugFactory(factory);
  return require.cache[require.resolve('mqtt-packet/parser.js')] === undefined;
}

installQuietDebug();
