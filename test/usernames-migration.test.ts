// Issue 13 finding 4: the usernames a seed stored, upgraded by migration 005 with the
// service's own code (lib/usernames.ts): its plan without a database, then the whole
// migration on the PostgreSQL server (on PGlite, the seed's rows go through it in
// test/operations.test.ts, "seed compatibility"). Then finding 5's database side: the
// skeleton claim a transaction that creates an account makes (lib/db/usernames.ts).
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Backend, adminQuery, requireBackend, seedFixture } from './helpers/backends.js';
import { PROJECT_ROOT, runToExit } from './helpers/process.js';
import { postJson } from './helpers/http.js';
import { codeAt, currentStep } from './helpers/totp.js';
import { isValidUsername, normaliseUsername, skeletonOf } from '../lib/usernames.js';
import { planUsernames, up as migrateUsernames } from '../lib/db/migrations/005_usernames.js';
import { loadMigrations, migrate } from '../lib/db/migrate.js';
import { Database, createPool } from '../lib/db/database.js';
import type { Queryable } from '../lib/db/database.js';
import { claimSkeleton, skeletonTaken } from '../lib/db/usernames.js';
import { createLogger } from '../lib/log.js';
import { until } from './helpers/time.js';

const SEED_SCHEMA = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/seed-schema.sql'), 'utf8');
const SEED_INSERT =
  'INSERT INTO users (username, password_hash, mfa_secret, created_at, expired) VALUES ($1, $2, $3, $4, $5)';

interface UserRow {
  username: string;
  status: string;
  password_hash: string | null;
  disabled_at: Date | string | null;
  username_skeleton: string;
}
interface UnmergedRow {
  original_username: string;
  normalised_username: string;
  reason: string;
  row_data: { username: string; password_hash: string; mfa_secret: string | null };
}
interface Snapshot {
  users: UserRow[];
  unmerged: UnmergedRow[];
  skeletonNullable: string | undefined;
}

const SNAPSHOT_QUERIES = {
  users: 'SELECT username, status, password_hash, disabled_at, username_skeleton FROM users ORDER BY username',
  unmerged:
    'SELECT original_username, normalised_username, reason, row_data FROM users_unmerged ORDER BY original_username',
  skeletonNullable:
    "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'username_skeleton'",
};

describe('unit: migration 005 plans stored usernames', () => {
  it('renames a name only its row normalises to, moves shared and invalid ones, keeps the rest', () => {
    const plan = planUsernames(['  bob\t', 'ALICE', 'Alice', 'ａｌｉｃｅ', 'jоse.fino', 'a b', 'zoë', 'Zoé']);
    expect(plan.get('  bob\t')).to.deep.equal({ kind: 'rename', to: 'bob' });
    for (const name of ['ALICE', 'Alice', 'ａｌｉｃｅ'])
      expect(plan.get(name)).to.include({ kind: 'unmerged', reason: 'shared', normalised: 'alice' });
    expect(plan.get('jоse.fino')).to.include({ kind: 'unmerged', reason: 'invalid' });
    expect(plan.get('a b')).to.include({ kind: 'unmerged', reason: 'invalid', normalised: 'a b' });
    expect(plan.get('zoë')).to.deep.equal({ kind: 'keep' });
    expect(plan.get('Zoé')).to.deep.equal({ kind: 'rename', to: 'zoé' });
  });

  it('moves a shared group whole, the row already spelled normalised too', () => {
    // "alice" may be the newcomer who registered the name an unreachable seed row held
    const plan = planUsernames(['alice', 'Alice']);
    expect([...plan.values()].map((fate) => fate.kind)).to.deep.equal(['unmerged', 'unmerged']);
  });
});

describe('unit: migration 005 ships as a TypeScript module', () => {
  it("ships this repository's migrations, 005 compiled from TypeScript", () => {
    const shipped = loadMigrations();
    expect(shipped.find((m) => m.version === 5)).to.include({ name: 'usernames', kind: 'module' });
    expect(shipped.filter((m) => m.version < 4).map((m) => m.kind)).to.deep.equal(['sql', 'sql', 'sql']);
  });
});

describe(`finding 4: stored usernames upgraded by the service's own normalisation (migration 005) on postgres`, function () {
  const backend = new Backend('postgres');
  const [seedUser] = seedFixture().rows;
  if (seedUser === undefined) throw new Error('the seed fixture has no rows');
  // As the seed stored them: "  bob\t" with a second factor (it signs in with the Python-made
  // credentials of the fixture's first row), three spellings of alice, a mixed-script name.
  const seeded: Array<[string, string, string | null]> = [
    ['  bob\t', seedUser.password_hash, seedUser.mfa_secret],
    ['ALICE', seedUser.password_hash, null],
    ['Alice', seedUser.password_hash, seedUser.mfa_secret],
    ['ａｌｉｃｅ', seedUser.password_hash, null],
    ['jоse.fino', seedUser.password_hash, null], // Cyrillic о
  ];
  let snapshot: Snapshot;

  before(async function () {
    await requireBackend(this, 'postgres');
    const createdAt = new Date().toISOString();
    await backend.prepare({ migrate: false });
    await backend.sql(SEED_SCHEMA);
    for (const [name, hash, mfa] of seeded) await backend.sql(SEED_INSERT, [name, hash, mfa, createdAt, false]);
    const migrated = await runToExit('migrate', backend.env());
    expect(migrated.code, migrated.output).to.equal(0);
    expect(migrated.output).to.contain('"event":"usernames_migrated"');
    snapshot = await readSnapshot();
  });
  after(() => backend.dispose());

  async function readSnapshot(): Promise<Snapshot> {
    const [nullable] = await backend.sql<{ is_nullable: string }>(SNAPSHOT_QUERIES.skeletonNullable);
    return {
      users: await backend.sql<UserRow>(SNAPSHOT_QUERIES.users),
      unmerged: await backend.sql<UnmergedRow>(SNAPSHOT_QUERIES.unmerged),
      skeletonNullable: nullable?.is_nullable,
    };
  }

  it('renames "  bob\\t" to bob, and leaves no name the code would not produce or accept', () => {
    const bob = snapshot.users.find((u) => u.username === 'bob');
    expect(bob).to.include({ status: 'active', password_hash: seedUser.password_hash });
    for (const user of snapshot.users) {
      expect(normaliseUsername(user.username), user.username).to.equal(user.username);
      expect(isValidUsername(user.username), user.username).to.equal(true);
      expect(user.username_skeleton, user.username).to.equal(skeletonOf(user.username));
    }
    expect(snapshot.skeletonNullable).to.equal('NO');
  });

  it('moves ALICE, Alice and ａｌｉｃｅ whole to users_unmerged and reserves alice with a disabled placeholder', () => {
    const alice = snapshot.users.find((u) => u.username === 'alice');
    expect(alice).to.include({ status: 'disabled', password_hash: null });
    expect(alice?.disabled_at).to.not.equal(null);
    const shared = snapshot.unmerged.filter((u) => u.reason === 'shared');
    expect(shared.map((u) => u.original_username).sort()).to.deep.equal(['ALICE', 'Alice', 'ａｌｉｃｅ'].sort());
    for (const row of shared) {
      expect(row.normalised_username).to.equal('alice');
      expect(row.row_data.username).to.equal(row.original_username);
      expect(row.row_data.password_hash).to.equal(seedUser.password_hash);
    }
    expect(shared.find((u) => u.original_username === 'Alice')?.row_data.mfa_secret).to.equal(seedUser.mfa_secret);
  });

  it('moves the mixed-script jоse.fino to users_unmerged, with no placeholder', () => {
    expect(snapshot.unmerged.find((u) => u.original_username === 'jоse.fino')).to.include({ reason: 'invalid' });
    expect(snapshot.users.map((u) => u.username)).to.deep.equal(['alice', 'bob']);
  });

  it('bob signs in by any spelling; neither bob nor alice can be registered again', async () => {
    const server = await backend.start({ BCRYPT_COST: '12' });
    try {
      const signedIn = await postJson(`${server.url}/authenticate`, {
        username: '\u3000ＢＯＢ\t',
        password: seedUser.password,
        totp: codeAt(seedUser.totp_secret as string, currentStep()),
      });
      expect(signedIn.status, signedIn.text).to.equal(200);
      expect(signedIn.body.username).to.equal('bob');
      for (const username of ['bob', '  Bob ', 'alice', 'ＡＬＩＣＥ']) {
        const taken = await postJson(`${server.url}/generate-password`, { username });
        expect(taken.status, `${username}: ${taken.text}`).to.equal(409);
        expect(taken.body.code).to.equal('account_exists');
      }
    } finally {
      await server.stop();
    }
  });
});

describe('finding 5: skeleton claims of new accounts (lib/db/usernames.ts), on postgres', function () {
  const backend = new Backend('postgres');
  let db: Database | undefined;
  const insert = (tx: Queryable, username: string, skeleton: string): Promise<unknown> =>
    tx.query(
      "INSERT INTO users (username, username_skeleton, password_hash, status, provenance) VALUES ($1, $2, 'not-a-hash', 'pending', 'self')",
      [username, skeleton],
    );

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    db = new Database(
      createPool(
        { connectionString: backend.databaseUrl, max: 4 },
        createLogger({}, () => undefined),
      ),
    );
  });
  after(async () => {
    await db?.close();
    await backend.dispose();
  });

  it('finds an existing look-alike, but not the account itself', async () => {
    const database = db as Database;
    await insert(database, 'zoë', skeletonOf('zoë'));
    expect(await skeletonTaken(database, skeletonOf('zoë'))).to.equal(true);
    expect(await skeletonTaken(database, skeletonOf('zoë'), 'zoë')).to.equal(false);
    expect(await skeletonTaken(database, skeletonOf('zoe'))).to.equal(false);
  });

  it('two concurrent creations of jose.fino and jose.fıno: the second waits for the first, then finds the skeleton taken', async () => {
    const database = db as Database;
    let inserted: () => void = () => undefined;
    const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
    let secondWaits: () => void = () => undefined;
    const secondWaiting = new Promise<void>((resolve) => (secondWaits = resolve));
    const first = database.transaction(async (tx) => {
      const claim = await claimSkeleton(tx, 'jose.fino');
      if (!claim.taken) await insert(tx, 'jose.fino', claim.skeleton);
      inserted();
      // commit only once the second is seen waiting for this transaction's lock
      await secondWaiting;
      return claim.taken;
    });
    await firstInserted;
    let secondDone = false;
    const second = database
      .transaction(async (tx) => {
        const claim = await claimSkeleton(tx, 'jose.fıno');
        if (!claim.taken) await insert(tx, 'jose.fıno', claim.skeleton);
        return claim.taken;
      })
      .finally(() => (secondDone = true));
    // The second blocks on the first's lock (a session of this database waiting on a Lock)
    // and does not finish while the first is open.
    await until(
      async () =>
        secondDone ||
        (
          await adminQuery<{ n: number }>(
            backend.name,
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            [backend.name],
          )
        )[0]?.n === 1,
      'the second claim never waited for the first',
    );
    expect(secondDone, 'the second finished while the first was still open').to.equal(false);
    secondWaits();
    const [firstTaken, secondTaken] = await Promise.all([first, second]);
    expect(firstTaken).to.equal(false);
    expect(secondTaken).to.equal(true);
    const rows = await backend.sql<{ username: string }>('SELECT username FROM users WHERE username_skeleton = $1', [
      skeletonOf('jose.fino'),
    ]);
    expect(rows.map((r) => r.username)).to.deep.equal(['jose.fino']);
  });
});

describe('migration 005 after a migration that added a NOT NULL provenance column (as 004 will), on postgres', function () {
  const backend = new Backend('postgres');
  let dir: string | undefined;
  let db: Database | undefined;

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare({ migrate: false });
    await adminQuery(backend.name, SEED_SCHEMA);
    for (const name of ['Alice', 'alice', 'Bob'])
      await adminQuery(backend.name, SEED_INSERT, [name, 'not-a-hash', null, new Date().toISOString(), false]);
    // 001-003 as shipped, then a stand-in for 004 whose provenance column has no default
    const folder = mkdtempSync(path.join(tmpdir(), 'cofrap-migrations-'));
    dir = folder;
    for (const m of loadMigrations().filter((m) => m.version < 4))
      copyFileSync(m.file, path.join(folder, path.basename(m.file)));
    writeFileSync(
      path.join(folder, '004_provenance.sql'),
      "ALTER TABLE users ADD COLUMN provenance TEXT CHECK (provenance IN ('seed', 'self', 'hr'));\nUPDATE users SET provenance = 'seed';\nALTER TABLE users ALTER COLUMN provenance SET NOT NULL;\n",
    );
    db = new Database(
      createPool(
        { connectionString: backend.databaseUrl, max: 2 },
        createLogger({}, () => undefined),
      ),
    );
    expect(
      await migrate(
        db,
        createLogger({}, () => undefined),
        folder,
      ),
    ).to.deep.equal([1, 2, 3, 4]);
  });
  after(async () => {
    await db?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await backend.dispose();
  });

  it('gives the placeholder the provenance "seed", and keeps the column in the moved rows', async () => {
    await (db as Database).transaction((tx) =>
      migrateUsernames(
        tx,
        createLogger({}, () => undefined),
      ),
    );
    const users = await adminQuery<{ username: string; status: string; provenance: string }>(
      backend.name,
      'SELECT username, status, provenance FROM users ORDER BY username',
    );
    expect(users.map((u) => [u.username, u.status, u.provenance])).to.deep.equal([
      ['alice', 'disabled', 'seed'],
      ['bob', 'pending', 'seed'],
    ]);
    const moved = await adminQuery<{ original_username: string; provenance: string }>(
      backend.name,
      "SELECT original_username, row_data->>'provenance' AS provenance FROM users_unmerged ORDER BY original_username",
    );
    expect(moved).to.deep.equal([
      { original_username: 'Alice', provenance: 'seed' },
      { original_username: 'alice', provenance: 'seed' },
    ]);
  });
});
