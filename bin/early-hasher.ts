// The first module the bundles of authenticate and generate-password evaluate
// (scripts/bundle.mjs): their cold start is woken by a request that hashes, so the bcrypt
// thread starts booting here, on another core, while the rest of the server loads, opens
// its database and listens, instead of after (docs/images.md, "Where a cold start went").
import { hasherSettings } from '../lib/config.js';
import { startHasherThreadEarly } from '../lib/crypto/bcrypt.js';

try {
  const { bcryptThreads, bcryptEngine } = hasherSettings();
  startHasherThreadEarly(bcryptThreads, bcryptEngine);
} catch {
  // A bad BCRYPT_THREADS or BCRYPT_ENGINE: the start-up that follows says which, and stops.
}
