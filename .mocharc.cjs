// mocha's settings (docs/testing.md). Each test file runs in a worker process of its own,
// three at a time: most of a file's time is spent waiting on the servers, the database or
// the browser it drives, so three files keep this machine's two cores busy. A file is
// self-contained (its own database, servers and accounts); none depends on another's order.
//
// The slowest files first, longest first (their times in a parallel run, measured): most
// of a file's time is one long sequence, and a slow file started last would run alone at
// the end. The rest after them, in name order.
const { existsSync, readdirSync } = require('node:fs');
const path = require('node:path');

const TESTS = 'dist/test';
const SLOWEST_FIRST = [
  'fuzz',
  'operations',
  'portal-recovery',
  'functions',
  'portal',
  'employee-events',
  'races',
  'portal-errors',
  'throttle',
  'events-auth',
  'database-faults',
  'lifecycle-audit',
  'brute-force',
  'account-command',
  'takeover',
  'recovery',
  'overload',
  'statement-timeout',
  'identity-event-schemas',
].map((name) => `${TESTS}/${name}.test.js`);

const all = existsSync(TESTS)
  ? readdirSync(TESTS)
      .filter((file) => file.endsWith('.test.js'))
      .map((file) => path.posix.join(TESTS, file))
      .sort()
  : [];

module.exports = {
  spec: [...SLOWEST_FIRST.filter((file) => all.includes(file)), ...all.filter((file) => !SLOWEST_FIRST.includes(file))],
  require: ['dist/test/hooks/no-secrets-in-logs.js'],
  parallel: true,
  jobs: 3,
  timeout: 60000,
  slow: 5000,
  reporter: 'spec',
  exit: true,
};
