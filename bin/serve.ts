// Any one function, named by FUNCTION_TARGET, from the compiled tree (dist/). The images
// run a bundle of their one function instead (scripts/bundle.mjs), which starts the same
// way (bin/serve-function.ts, bin/serve-portal.ts).
import { ALL_FUNCTION_NAMES, PORTAL, isFunctionName } from '../lib/function-names.js';
import { stopOnConfiguration } from './serve-checks.js';

const target = process.env.FUNCTION_TARGET ?? '';
if (!isFunctionName(target))
  stopOnConfiguration(`FUNCTION_TARGET must be one of ${ALL_FUNCTION_NAMES.join(', ')}, got "${target}"`);
const { FUNCTIONS } = await import('../lib/functions.js');
if (target === PORTAL) {
  const { servePortal } = await import('./serve-portal.js');
  await servePortal(FUNCTIONS.portal.handler, () => FUNCTIONS.portal.prepare?.());
} else {
  const { serveFunction } = await import('./serve-function.js');
  await serveFunction(target, FUNCTIONS[target].handler);
}
