// npm run rotate-encryption-key: after a new Fernet key was put first in encryption-key
// (the old ones kept below it), re-seal every stored TOTP secret with it. Exit 1 when a
// secret could not be read with any configured key.
import { SecretBox } from '../lib/crypto/fernet.js';
import { log } from '../lib/log.js';
import { rotateEncryptionKey } from '../lib/rotation.js';
import { runCommand } from './command.js';

await runCommand('rotation', async (db, config) => {
  const report = await rotateEncryptionKey(db, new SecretBox(config.encryptionKeys), log);
  process.stdout.write(
    `examined ${report.examined}, re-sealed ${report.resealed}, already on the first key ${report.alreadyCurrent}, ` +
      `changed meanwhile ${report.changedMeanwhile}, unreadable ${report.unreadable}\n`,
  );
  if (report.unreadable > 0) process.exitCode = 1;
});
