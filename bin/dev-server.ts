// npm start: the development server (bin/serve-development.ts) from dist/, the embedded
// database included.
import { serveDevelopment } from './serve-development.js';

await serveDevelopment();
