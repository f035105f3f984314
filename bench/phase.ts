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
