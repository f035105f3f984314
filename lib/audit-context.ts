// The audit context of a request: who (the caller themself, or the event's source and id),
// which request, from which function. The client address joins it once the envelope
// resolves one (issue 15's throttle per address).
import type { AuditContext } from './audit.js';

export interface RequestFacts {
  requestId: string;
  clientAddress?: string;
}

/** A person calling a function for their own account. */
export function selfContext(origin: string, request: RequestFacts): AuditContext {
  return {
    actor: 'self',
    origin,
    requestId: request.requestId,
    ...(request.clientAddress === undefined ? {} : { clientAddress: request.clientAddress }),
  };
}

/** An event delivered by the broker: the actor is its source and id. */
export function eventContext(
  origin: string,
  request: RequestFacts,
  event: { source: string; id: string },
): AuditContext {
  return { ...selfContext(origin, request), actor: `${event.source}#${event.id}` };
}
