// Every function's handler, imported from its module (each module also registers it with
// the functions-framework, for the framework's own CLI). The development server and the
// generic bin/serve.js use this table; an image's bundle imports its one function only
// (scripts/bundle.mjs).
import type { HttpFunction } from '@google-cloud/functions-framework';
import { authenticate } from '../functions/authenticate/index.js';
import { employeeEvents } from '../functions/employee-events/index.js';
import { generate2fa } from '../functions/generate-2fa/index.js';
import { generatePassword } from '../functions/generate-password/index.js';
import { housekeeping } from '../functions/housekeeping/index.js';
import { portalHandler, preparePortal } from '../functions/portal/index.js';
import type { FunctionName } from './function-names.js';

export { ALL_FUNCTION_NAMES, FUNCTION_NAMES, PORTAL, isFunctionName } from './function-names.js';
export type { FunctionName } from './function-names.js';

export interface ServedFunction {
  handler: HttpFunction;
  /** Reads what the function needs from the environment, throwing on a bad setting, before it listens. */
  prepare?: () => void;
}

export const FUNCTIONS: Readonly<Record<FunctionName, ServedFunction>> = {
  'generate-password': { handler: generatePassword },
  'generate-2fa': { handler: generate2fa },
  authenticate: { handler: authenticate },
  'employee-events': { handler: employeeEvents },
  housekeeping: { handler: housekeeping },
  portal: { handler: portalHandler, prepare: preparePortal },
};
