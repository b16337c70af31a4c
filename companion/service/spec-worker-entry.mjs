// Worker threads do not inherit the parent's TypeScript loader: register it, then start the worker.
import { register } from 'tsx/esm/api';

register();
await import('./spec-worker.ts');
