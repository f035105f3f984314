// Any one function, named by FUNCTION_TARGET, from the compiled tree (dist/). The images
// run a bundle of their one function instead (scripts/bundle.mjs), which starts the same
// way (bin/serve-function.ts).
import { ALL_FUNCTION_NAMES, isFunctionName } from '../lib/function-names.js';
import { serveFunction, stopOnConfiguration } from './serve-function.js';

const target = process.env.FUNCTION_TARGET ?? '';
if (!isFunctionName(target)) stopOnConfiguration(`FUNCTION_TARGET must be one of ${ALL_FUNCTION_NAMES.join(', ')}, got "${target}"`);
const { FUNCTIONS } = await import('../lib/functions.js');
const served = FUNCTIONS[target];
await serveFunction(target, served.handler, served.prepare);
