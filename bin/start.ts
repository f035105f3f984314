// Shared start-up of our processes: build the runtime from the environment, and on a bad
// configuration stop with one line that names the variable or file. What the served
// functions need beyond the common settings (employee-events: the sender checks of §7)
// is checked here too, before the database is opened.
import { ConfigError, loadConfig, requireEventSenderChecks } from '../lib/config.js';
import type { Config } from '../lib/config.js';
import type { FunctionName } from '../lib/function-names.js';
import { describeError, log } from '../lib/log.js';
import { getRuntime } from '../lib/runtime.js';
import type { Runtime } from '../lib/runtime.js';

const EVENTS: FunctionName = 'employee-events';
const HOUSEKEEPING = 'housekeeping' as const satisfies FunctionName;

/** The sender checks employee-events runs without (embedded mode only), for the start log. */
export function uncheckedEventSenders(config: Config): string[] {
  const off: string[] = [];
  if (config.eventsOidc === undefined) off.push('token');
  else if (config.eventsOidc.subjects === undefined) off.push('subject');
  if (config.hrEventSources === undefined) off.push('source');
  return off;
}

export async function startRuntime(served: readonly FunctionName[]): Promise<Runtime> {
  const servesEvents = served.includes(EVENTS);
  let runtime: Runtime;
  try {
    runtime = await getRuntime(() => {
      const config = loadConfig();
      if (servesEvents) requireEventSenderChecks(config);
      if (served.includes(HOUSEKEEPING)) requireEventSenderChecks(config, HOUSEKEEPING);
      return config;
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
    } else {
      log.error('startup_failed', describeError(error));
      process.stderr.write(`start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }
  const off = servesEvents ? uncheckedEventSenders(runtime.config) : [];
  if (off.length > 0) {
    // Only reachable in embedded mode (requireEventSenderChecks): said loudly all the same.
    runtime.log.warn('events_unchecked', {
      function: EVENTS,
      unchecked: off,
      note: 'embedded development mode: employee-events accepts events without these checks; set EVENTS_OIDC_ISSUER, EVENTS_OIDC_AUDIENCE, EVENTS_OIDC_JWKS_URL, EVENTS_OIDC_SUBJECTS and HR_EVENT_SOURCES to apply them',
    });
  }
  return runtime;
}
