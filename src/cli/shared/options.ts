/** Parsers for command-line option values, with messages that name the flag. */
import { InvalidArgumentError } from 'commander';

/** Parses a TCP port (0–65535). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError(`'${value}' is not a port number (0-65535)`);
  return port;
}

/** Parses a non-negative integer. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not a whole number`);
  return n;
}
