// housekeeping: fired every minute by a Knative PingSource (its OIDC token verified as
// employee-events verifies the broker's, with this Service's own audience). Each tick
// delivers pending identity events, publishes due expiry reminders and prunes what has
// lapsed (lib/housekeeping.ts); the answer is a JSON object of counts.
import { http } from '@google-cloud/functions-framework';
import { postFunction } from '../../lib/http/function.js';
import { verifiedSender } from '../../lib/events-auth.js';
import { housekeepingTick } from '../../lib/housekeeping.js';
import type { Schemas } from '../../lib/openapi-types.js';

export const housekeeping = postFunction(
  'housekeeping',
  async (runtime, { log, requestId }) => {
    const report = await housekeepingTick(runtime, log, requestId);
    const body: Schemas['HousekeepingReport'] = {
      delivered: report.delivered,
      failed: report.failed,
      reminders: report.reminders,
      pruned: { ...report.pruned },
    };
    return { status: 200, body };
  },
  { beforeBody: verifiedSender() },
);

http('housekeeping', housekeeping);
