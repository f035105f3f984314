// One run of the embedded-database phase (bench/embedded.ts), in a process of its own so
// that the V8 setting it was started with (or not: `--liftoff-only`) holds from before
// PGlite's WASM is compiled: opens the data directory given, runs `count` indexed lookups
// of a username that is not there (what every sign-in of an unknown name asks first), and
// prints one JSON line with the CPU of each part (process.cpuUsage: every thread, so V8's
// background compilation too).
import { PGlite } from '@electric-sql/pglite';

const [dataDir, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (dataDir === undefined || !Number.isInteger(count) || count < 1)
  throw new Error('usage: embedded-queries.js <PGlite data directory> <count>');

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};
const start = process.cpuUsage();
const db = await PGlite.create(dataDir);
const openCpuMs = cpuMs(start);
const queried = process.cpuUsage();
for (let i = 0; i < count; i++)
  await db.query('SELECT status FROM users WHERE username = $1', [`bench-embedded-${i % 100}`]);
const queriesCpuMs = cpuMs(queried);
await db.close();
process.stdout.write(`${JSON.stringify({ openCpuMs, queriesCpuMs })}\n`);
