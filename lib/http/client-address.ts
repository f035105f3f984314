// The client address the throttle keys on (contract §6): the TCP peer, or, behind
// TRUSTED_PROXY_HOPS proxies that each append the address they received the request from,
// the X-Forwarded-For entry that many from the right. Entries further left were written
// by whoever sent the request and prove nothing.
//
// proxy-addr (the module Express's `trust proxy` uses) walks the peer and then the
// X-Forwarded-For entries from the right, and stops at the first one not trusted; a trust
// function of the position alone makes it "skip exactly N hops". ipaddr.js (its own
// dependency) writes the result in one canonical form, so one client is one key
// ("::ffff:10.0.0.1" and "10.0.0.1" on a dual-stack socket; upper- or lower-case IPv6).
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  /** The key: the client as the configured proxies saw it, canonical. */
  address: string;
  /** The TCP peer: the nearest proxy, or the client itself without proxies. */
  peer: string;
  /** How many X-Forwarded-For entries the request carried. */
  forwardedEntries: number;
  /**
   * Why the configured entry could not be used, if so: fewer entries than hops (a proxy
   * of the chain is missing: the hop count is wrong), or an entry that is not an address.
   */
  fallback?: 'missing_hops' | 'not_an_address';
}

function canonical(address: string): string | undefined {
  // node's strict check first: ipaddr.js also reads legacy forms ("010.1.1.1", "1").
  if (isIP(address) === 0) return undefined;
  return ipaddr.process(address).toString();
}

/**
 * Node compiles its IPv6 pattern on the first isIP() of an address that is not IPv4 (~5 ms
 * on this machine), and on a dual-stack socket every peer is written as one
 * (::ffff:10.0.0.1). Called once the server listens, while its first readiness check waits
 * on the database, that time is not added to a cold start's first request.
 */
export function prepareAddressParsing(): void {
  canonical('::ffff:127.0.0.1');
}

export function resolveClientAddress(req: IncomingMessage, trustedHops: number): ResolvedAddress {
  // proxyaddr.all: [peer, X-Forwarded-For entries from right to left].
  const chain = proxyaddr.all(req);
  const rawPeer = chain[0] ?? '';
  const peer = canonical(rawPeer) ?? rawPeer;
  const forwardedEntries = chain.length - 1;
  if (trustedHops === 0) return { address: peer, peer, forwardedEntries };

  // Fewer entries than hops: a proxy of the chain was not on this request's path, so the
  // count is wrong for it, and the leftmost entry (what proxy-addr would answer) may be one
  // the client wrote. The nearest proxy stands for the client instead: such requests share
  // one key, which errs towards throttling. (A client that sent entries of its own hides
  // this case; only a constant chain prevents it: see docs/operations.md, "Client address".)
  if (forwardedEntries < trustedHops) return { address: peer, peer, forwardedEntries, fallback: 'missing_hops' };
  const entry = proxyaddr(req, (_address, hop) => hop < trustedHops);
  const address = canonical(entry);
  if (address === undefined) return { address: peer, peer, forwardedEntries, fallback: 'not_an_address' };
  return { address, peer, forwardedEntries };
}
