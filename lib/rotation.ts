// Fernet key rotation: re-seal every stored TOTP secret (those in use, then the staged
// ones) with the first key of encryption-key. Batches in username order; each row is
// swapped only if unchanged since it was read, so the command is safe while the functions
// serve traffic, and it can be stopped and run again at any time (rows already on the
// current key are skipped). Each re-sealed secret is one transaction with its audit record
// and identity event, encryption-key.rotated (subject = the account).
import type { Database } from './db/database.js';
import { recordAudit } from './db/audit.js';
import type { AuditContext } from './audit.js';
import { SEALED_COLUMNS, resealSecret, sealedSecretsAfter } from './db/accounts.js';
import type { SecretBox } from './crypto/fernet.js';
import type { Logger } from './log.js';

export interface RotationReport {
  examined: number;
  resealed: number;
  alreadyCurrent: number;
  changedMeanwhile: number;
  unreadable: number;
}

/** The command's own work: no request, no operator named (it runs as a Job or by hand). */
const ROTATION: AuditContext = { actor: 'rotate-encryption-key', origin: 'rotate-encryption-key' };

export async function rotateEncryptionKey(
  db: Database,
  box: SecretBox,
  log: Logger,
  batchSize = 200,
): Promise<RotationReport> {
  const report: RotationReport = { examined: 0, resealed: 0, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: 0 };
  for (const column of SEALED_COLUMNS) {
    let after = '';
    for (;;) {
      const batch = await sealedSecretsAfter(db, column, after, batchSize);
      if (batch.length === 0) break;
      for (const { username, sealed } of batch) {
        report.examined++;
        if (box.isCurrent(sealed)) {
          report.alreadyCurrent++;
          continue;
        }
        const secret = box.decrypt(sealed);
        if (secret === undefined) {
          // No configured key opens it: leave it, and say so (the operator removed a key too early).
          report.unreadable++;
          log.warn('rotation_unreadable_secret', { username, column });
          continue;
        }
        const resealed = await db.transaction(async (tx) => {
          if (!(await resealSecret(tx, column, username, sealed, box.encrypt(secret)))) return false;
          // The account's stored secret changed: recorded and published with the change (contract §11).
          await recordAudit(tx, ROTATION, { type: 'encryption-key.rotated', username, details: { column } });
          return true;
        });
        if (resealed) report.resealed++;
        else report.changedMeanwhile++;
      }
      after = batch[batch.length - 1]?.username ?? after;
      log.info('rotation_batch', { ...report, column, last_username: after });
    }
  }
  return report;
}
