// TOTP secrets at rest: Fernet, readable by Python's cryptography.fernet with the same key.
// Several keys allow rotation: the first encrypts, every key is tried to decrypt.
//
// Fernet (https://github.com/fernet/spec) is AES-128-CBC with PKCS#7 padding, then
// HMAC-SHA256 over version, timestamp, IV and ciphertext; the 32-byte key is the signing
// key followed by the encryption key. It is written here on node:crypto: the `fernet`
// package (on crypto-js) cost ~18 ms of every cold start and up to a millisecond per call.
// Stored secrets never lapse, so the timestamp is written but never checked (Python's
// decrypt() without a ttl does the same).
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const HEADER = 1 + 8 + 16; // version, timestamp, IV
const MAC = 32;

interface Key {
  signing: Buffer;
  encryption: Buffer;
}

function parseKey(key: string): Key {
  const bytes = Buffer.from(key, 'base64url');
  if (bytes.length !== 32) throw new Error('a Fernet key is 32 bytes of url-safe base64');
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16) };
}

function mac(key: Key, data: Buffer): Buffer {
  return createHmac('sha256', key.signing).update(data).digest();
}

/** Url-safe base64 with its padding, as Python writes (and requires) it. */
function encode(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function decode(token: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < HEADER + 16 + MAC || (bytes.length - HEADER - MAC) % 16 !== 0 || bytes[0] !== VERSION) return undefined;
  return bytes;
}

function open(key: Key, bytes: Buffer): string | undefined {
  const body = bytes.subarray(0, bytes.length - MAC);
  if (!timingSafeEqual(mac(key, body), bytes.subarray(bytes.length - MAC))) return undefined;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryption, bytes.subarray(9, HEADER));
    return Buffer.concat([decipher.update(body.subarray(HEADER)), decipher.final()]).toString('utf8');
  } catch {
    return undefined; // bad padding: not a token of this key
  }
}

export class SecretBox {
  private readonly keys: Key[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('at least one Fernet key is required');
    this.keys = keys.map(parseKey);
  }

  encrypt(plaintext: string): string {
    const key = this.keys[0] as Key;
    const header = Buffer.alloc(HEADER);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)), 1);
    const iv = randomBytes(16);
    iv.copy(header, 9);
    const cipher = createCipheriv('aes-128-cbc', key.encryption, iv);
    const body = Buffer.concat([header, cipher.update(plaintext, 'utf8'), cipher.final()]);
    return encode(Buffer.concat([body, mac(key, body)]));
  }

  /** Returns undefined when no key opens the token (tampered, or encrypted with a retired key). */
  decrypt(token: string): string | undefined {
    const bytes = decode(token);
    if (bytes === undefined) return undefined;
    for (const key of this.keys) {
      const plaintext = open(key, bytes);
      if (plaintext !== undefined) return plaintext;
    }
    return undefined;
  }

  /** True when the token is sealed with the current (first) key. */
  isCurrent(token: string): boolean {
    const bytes = decode(token);
    return bytes !== undefined && open(this.keys[0] as Key, bytes) !== undefined;
  }
}
