// What a bench phase kept in its own module (bench/<phase>.ts) hands back to bench/run.ts:
// lines for the printed table, its targets (judged once the bcrypt floor of our engine is
// known), and its figures for the JSON record.
import net from 'node:net';
export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

/** The floor of the engine our server uses, as bench/run.ts measures it. */
export interface Floor {
  hashMs: { median: number };
  verifyMs: { median: number };
}

export interface PhaseReport {
  name: string;
  lines: string[];
  targets(floor: Floor | undefined): Target[];
  figures: Record<string, unknown>;
}

export const fmt = (value: number | undefined, digits = 0): string =>
  value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);

/** A port of 127.0.0.1 free at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Rounded to `digits` decimals. */
export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
/** The median (the mean of the middle two for an even count). */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
