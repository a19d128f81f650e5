// Entry point of a `turnout start` worker process (node:cluster forks it from the primary).
import { runWorker } from './worker.ts';

runWorker();
