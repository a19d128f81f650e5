// The reaper: a tiny detached process that kills every process group registered with it once its
// owner dies, however the owner dies (normal exit, uncaught error, SIGINT, or SIGKILL, which the
// owner cannot intercept). Run as `node reaper.ts <ownerPid>`; the owner writes "+<pgid>" and
// "-<pgid>" lines on our stdin. The owner's end of that pipe closes when the owner dies, so EOF is
// the death notice; polling the owner's pid is a backstop.
import { createInterface } from 'node:readline';

const owner = Number(process.argv[2]);
const groups = new Set<number>();

function reap(): never {
  for (const pgid of groups) {
    try {
      // SIGKILL: the owner is gone and the data is throwaway, so nothing is gained by waiting.
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
}

// Detached into our own session, but ignore terminal signals anyway: we must outlive the owner.
for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGPIPE'] as const) process.on(signal, () => {});
process.on('SIGTERM', reap);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line.startsWith('+')) groups.add(pgid);
  else if (line.startsWith('-')) groups.delete(pgid);
});
lines.on('close', reap);

setInterval(() => {
  try {
    process.kill(owner, 0);
  } catch {
    reap();
  }
}, 1000);
