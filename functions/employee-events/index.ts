// employee-events: HR's and the IT helpdesk's events, delivered by a Knative Trigger and
// accepted only with the broker's verified OIDC token and from an allowed source.
// `created` invites the employee (the reply event carries the invitation token for the
// mailer), or tells IT that someone else holds the name; `departed` disables the account;
// `rehired` invites a disabled account again; `reset-requested` gives an active account a
// single-use reset token (reply for the mailer). Each delivery is applied in one
// transaction together with the record of its (source, id), so redeliveries never
// duplicate anything, and its reply is built before that transaction commits.
import { http } from '@google-cloud/functions-framework';
import { postFunction } from '../../lib/http/function.js';
import type { Reply } from '../../lib/http/function.js';
import {
  EMPLOYEE_CREATED,
  EMPLOYEE_DEPARTED,
  EMPLOYEE_REHIRED,
  conflictReply,
  invitationReply,
  parseEmployeeEvent,
  resetReply,
} from '../../lib/events.js';
import type { EmployeeEvent, HrEvent, ReplyMessage } from '../../lib/events.js';
import { disable, invite, provenanceOf, recordDelivery, rehire, requestReset } from '../../lib/db/employees.js';
import type { Invitation, InvitationIssued } from '../../lib/db/employees.js';
import type { Queryable } from '../../lib/db/database.js';
import { issueToken } from '../../lib/crypto/tokens.js';
import { recordAudit } from '../../lib/db/audit.js';
import { eventContext } from '../../lib/audit-context.js';
import type { AuditDetails, AuditEntry } from '../../lib/audit.js';
import { claimSkeleton, skeletonHolder } from '../../lib/db/usernames.js';
import type { Runtime } from '../../lib/runtime.js';
import { requireAllowedSource, verifiedSender } from '../../lib/events-auth.js';

interface Applied {
  /** What happened, for the log: never a token. */
  outcome: string;
  reply?: ReplyMessage;
  /** The audit record of the change; none when nothing changed (never a token in it). */
  audit?: AuditEntry;
}

/** The invitation of an HR event; the skeleton is added where a row may be created (invite). */
function invitationOf(event: HrEvent, tokenHash: string, runtime: Runtime): Omit<Invitation, 'usernameSkeleton'> {
  return {
    username: event.username,
    invitationTokenHash: tokenHash,
    invitationTtl: runtime.config.invitationTtl,
    ...(event.email === undefined ? {} : { email: event.email }),
    ...(event.displayName === undefined ? {} : { displayName: event.displayName }),
  };
}

/** Applies one event inside the delivery's transaction. */
async function apply(tx: Queryable, event: EmployeeEvent, runtime: Runtime): Promise<Applied> {
  const { username } = event;
  switch (event.type) {
    case EMPLOYEE_CREATED: {
      // A name that looks like another account's (jose.fıno beside jose.fino) is never
      // created: IT is told which account it resembles.
      const claim = await claimSkeleton(tx, username);
      if (claim.taken) {
        const similar = await skeletonHolder(tx, claim.skeleton, username);
        const provenance = similar?.provenance ?? 'self';
        const details = { provenance, ...(similar === undefined ? {} : { similar_to: similar.username }) };
        return {
          outcome: 'conflict',
          reply: conflictReply(username, provenance, similar?.username),
          audit: { type: 'account.conflict', username, details },
        };
      }
      const token = issueToken();
      const issued = await invite(tx, {
        ...invitationOf(event, token.hash, runtime),
        usernameSkeleton: claim.skeleton,
      });
      if (issued !== undefined) return invited('account.invited', username, token.token, issued);
      // Someone registered the name before HR's event arrived: IT must look, nothing changes.
      // (A disabled account comes back only by `rehired`.)
      const holder = await provenanceOf(tx, username);
      if (holder !== undefined && holder.provenance !== 'hr' && holder.status !== 'disabled') {
        return {
          outcome: 'conflict',
          reply: conflictReply(username, holder.provenance),
          audit: { type: 'account.conflict', username, details: { provenance: holder.provenance } },
        };
      }
      return { outcome: 'exists' };
    }
    case EMPLOYEE_DEPARTED: {
      const disabled = await disable(tx, username);
      if (!disabled.changed) return { outcome: 'already_disabled' };
      return {
        outcome: 'disabled',
        audit: { type: 'account.disabled', username, details: { previous_status: disabled.previousStatus } },
      };
    }
    case EMPLOYEE_REHIRED: {
      const token = issueToken();
      const issued = await rehire(tx, invitationOf(event, token.hash, runtime));
      if (issued === undefined) return { outcome: 'not_disabled' };
      return invited('account.enabled', username, token.token, issued);
    }
    default: {
      const token = issueToken();
      const issued = await requestReset(tx, username, token.hash, runtime.config.resetTtl);
      if (issued === undefined) return { outcome: 'not_active' };
      const details = {
        requested_by: event.requestedBy,
        ...(event.reason === undefined ? {} : { reason: event.reason }),
        reset_expires_at: issued.expiresAt.toISOString(),
      };
      return {
        outcome: 'reset_issued',
        reply: resetReply(username, token.token, issued.expiresAt, issued.email),
        audit: { type: 'account.reset-requested', username, details },
      };
    }
  }
}

/** An invitation issued (a new employee, or a re-hire): its reply event and its record. */
function invited(
  type: 'account.invited' | 'account.enabled',
  username: string,
  token: string,
  issued: InvitationIssued,
): Applied {
  return {
    outcome: 'invited',
    reply: invitationReply(username, token, issued.expiresAt, issued.email),
    audit: { type, username, details: { invitation_expires_at: issued.expiresAt.toISOString() } },
  };
}

/** The trail's record of an event that changed nothing (not published: there is no change). */
function unchanged(event: EmployeeEvent, outcome: string): AuditEntry {
  const details: AuditDetails = { event: event.type, outcome };
  if ('requestedBy' in event) details.requested_by = event.requestedBy;
  return { type: 'account.unchanged', username: event.username, details };
}

export const employeeEvents = postFunction(
  'employee-events',
  async (runtime, request): Promise<Reply> => {
    const { headers, body, log } = request;
    const event = parseEmployeeEvent(headers, body);
    requireAllowedSource(runtime.config, event.source, log);
    const { deliveries, applied, events } = await runtime.db.transaction(async (tx) => {
      const deliveries = await recordDelivery(tx, event);
      const applied = await apply(tx, event, runtime);
      // Every event handled is recorded (§7): one that changed nothing in the trail only.
      const id = await recordAudit(
        tx,
        eventContext('employee-events', request, event),
        applied.audit ?? unchanged(event, applied.outcome),
      );
      return { deliveries, applied, events: applied.audit === undefined ? [] : [id] };
    });
    runtime.publisher.nudge(events);
    log.info('employee_event', {
      type: event.type,
      username: event.username,
      source: event.source,
      event_id: event.id,
      deliveries,
      outcome: applied.outcome,
      ...('requestedBy' in event ? { requested_by: event.requestedBy } : {}),
    });
    if (applied.reply === undefined) return { status: 200 };
    return { status: 200, headers: applied.reply.headers, body: applied.reply.body };
  },
  { beforeBody: verifiedSender() },
); // the broker's token, checked before the body is read (§7)

http('employee-events', employeeEvents);
