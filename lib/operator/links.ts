// The portal links the operator hands over after `account reset` and `account enable`:
// the portal opens the reset or invitation flow from its query string (contract §10).
import { ConfigError } from '../config.js';

export const DEFAULT_PORTAL_URL = 'http://localhost:8080';

/** PORTAL_URL: where employees reach the portal; read only by the commands that print a link. */
export function portalUrlOf(env: Record<string, string | undefined> = process.env): URL {
  const raw = env.PORTAL_URL?.trim() || DEFAULT_PORTAL_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PORTAL_URL must be an http(s) URL such as https://portal.cofrap.fr, got "${raw}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`PORTAL_URL must be an http(s) URL without query or fragment, got "${raw}"`);
  }
  return url;
}

/** `<PORTAL_URL>/?username=<u>&<kind>=<token>`, each value encoded by URLSearchParams. */
export function portalLink(portal: URL, username: string, kind: 'reset' | 'invitation', token: string): string {
  const link = new URL(portal.href);
  link.search = new URLSearchParams({ username, [kind]: token }).toString();
  return link.href;
}
