// employee-events: HR's onboarding and offboarding events, delivered by a Knative Trigger.
// `created` invites the employee (the reply event carries the invitation token for the
// mailer); `departed` disables the account. Each delivery is applied in one transaction
// together with the record of its (source, id), so redeliveries never duplicate anything.
import { http } from '@google-cloud/functions-framework';
import { postFunction } from '../../lib/http/function.js';
import { EMPLOYEE_CREATED, invitationReply, parseEmployeeEvent } from '../../lib/events.js';
import { disable, invite, recordDelivery } from '../../lib/db/employees.js';
import { issueToken } from '../../lib/crypto/tokens.js';
import { requireAllowedSource, verifiedSender } from '../../lib/events-auth.js';

export const employeeEvents = postFunction('employee-events', async (runtime, { headers, body, log }) => {
  const event = parseEmployeeEvent(headers, body);
  requireAllowedSource(runtime.config, event.source, log);
  const { db, config } = runtime;

  if (event.type === EMPLOYEE_CREATED) {
    const invitation = issueToken();
    const result = await db.transaction(async (tx) => {
      const deliveries = await recordDelivery(tx, event);
      const expiresAt = await invite(tx, {
        username: event.username,
        invitationTokenHash: invitation.hash,
        invitationTtl: config.invitationTtl,
        ...(event.email === undefined ? {} : { email: event.email }),
        ...(event.displayName === undefined ? {} : { displayName: event.displayName }),
      });
      // The reply is built (and its headers encoded) before COMMIT: should that throw, the
      // invitation rolls back and the broker's retry finds nothing half done, rather than
      // a committed token nobody received behind a 500.
      const reply = expiresAt === undefined ? undefined : invitationReply(event.username, invitation.token, expiresAt);
      return { deliveries, reply };
    });
    log.info('employee_created', { username: event.username, event_id: event.id, deliveries: result.deliveries, invited: result.reply !== undefined });
    if (result.reply === undefined) return { status: 200 }; // the account exists already: nothing to send
    return { status: 200, headers: result.reply.headers, body: result.reply.body };
  }

  const deliveries = await db.transaction(async (tx) => {
    const count = await recordDelivery(tx, event);
    await disable(tx, event.username);
    return count;
  });
  log.info('employee_departed', { username: event.username, event_id: event.id, deliveries });
  return { status: 200 };
}, { beforeBody: verifiedSender() }); // the broker's token, checked before the body is read (§7)

http('employee-events', employeeEvents);
