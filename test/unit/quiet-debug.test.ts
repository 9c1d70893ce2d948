// src/broker/quiet-debug.ts swaps the `debug` package's factory for one that hands out no-op loggers for
// namespaces that are off (mqtt-packet logs on every packet; `hush bench`). It must stay a pure speed-up:
// loggers that are on still log, the factory's own API still works, and the swap is in place for the
// broker before mqtt-packet creates its loggers.
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { quietDebugFactory, type DebugLogger } from '../../src/broker/quiet-debug.ts';
import '../../src/broker/broker.ts';

const fromMqttPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
type Factory = Parameters<typeof quietDebugFactory>[0] & {
  enable(namespaces: string): void;
  disable(): string;
};
type Capturing = DebugLogger & { log?: (...args: unknown[]) => void };

describe('quiet debug loggers', () => {
  it('are installed for mqtt-packet before it creates its loggers', () => {
    const factory = fromMqttPacket('debug') as Record<symbol, unknown>;
    expect(factory[Symbol.for('hush.quietDebug')]).toBe(true);
  });

  it('do nothing for namespaces that are off, and log for those that are on', () => {
    const factory = fromMqttPacket('debug') as Factory;
    const lines: string[] = [];
    const capture = (...args: unknown[]) => lines.push(format(...args));
    const previous = factory.disable();
    try {
      const quiet = quietDebugFactory(factory) as Factory;
      const off: Capturing = quiet('hush-test:off');
      off.log = capture;
      expect(off.enabled).toBe(false);
      expect(off.namespace).toBe('hush-test:off');
      off('not written %o', { a: 1 });
      expect(off.extend('sub').namespace).toBe('hush-test:off:sub');
      expect(off.destroy()).toBe(false);

      quiet.enable('hush-test:on*');
      const on: Capturing = quiet('hush-test:on');
      on.log = capture;
      expect(on.enabled).toBe(true);
      on('written %d', 42);
      expect(off.extend('x').enabled).toBe(false);
      expect(quiet('hush-test:off').enabled).toBe(false);
      expect(lines.join('\n')).toMatch(/hush-test:on.*written 42/);
      expect(lines.join('\n')).not.toMatch(/not written/);
    } finally {
      factory.enable(previous);
    }
  });
});
