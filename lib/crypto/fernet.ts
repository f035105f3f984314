// TOTP secrets at rest: Fernet, readable by Python's cryptography.fernet with the same key.
// Several keys allow rotation: the first encrypts, every key is tried to decrypt.
import fernet from 'fernet';

type Secret = InstanceType<typeof fernet.Secret>;

export class SecretBox {
  private readonly secrets: Secret[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('at least one Fernet key is required');
    this.secrets = keys.map((key) => new fernet.Secret(key));
  }

  encrypt(plaintext: string): string {
    return new fernet.Token({ secret: this.secrets[0] as Secret }).encode(plaintext);
  }

  /** Returns undefined when no key opens the token (tampered, or encrypted with a retired key). */
  decrypt(token: string): string | undefined {
    for (const secret of this.secrets) {
      try {
        // ttl 0: a stored secret never lapses; the package's default of 60 s would reject it.
        return new fernet.Token({ secret, token, ttl: 0 }).decode();
      } catch {
        // try the next key
      }
    }
    return undefined;
  }

  /** True when the token is sealed with the current (first) key. */
  isCurrent(token: string): boolean {
    try {
      new fernet.Token({ secret: this.secrets[0] as Secret, token, ttl: 0 }).decode();
      return true;
    } catch {
      return false;
    }
  }
}
