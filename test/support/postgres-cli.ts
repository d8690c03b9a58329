/**
 * Starts/stops the one throwaway PostgreSQL that scripts/test.sh shares across all test-file
 * processes of a run (Node 20's test runner has no global setup hook).
 *
 *   start [--owner-pid PID]  prints `export EARSHOT_TEST_DATABASE_URL=...` and
 *                            `export EARSHOT_TEST_PG_DIR=...` for the shell to eval.
 *                            The server outlives this process; if PID (the calling shell)
 *                            dies without stopping it, the next start sweeps it away.
 *   stop DIR                 stops the server in DIR and deletes DIR.
 */
import path from 'node:path';
import { DATABASE_URL_ENV, startCluster, stopCluster } from './postgres.js';

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const [command, ...args] = process.argv.slice(2);
if (command === 'start') {
  const i = args.indexOf('--owner-pid');
  const ownerPid = i >= 0 ? Number(args[i + 1]) : 0; // 0: no owner, never swept
  if (!Number.isInteger(ownerPid) || ownerPid < 0) throw new Error('--owner-pid needs a pid');
  const { url, dir } = await startCluster(ownerPid, true);
  process.stdout.write(`export ${DATABASE_URL_ENV}=${shellQuote(url)}\n`);
  process.stdout.write(`export EARSHOT_TEST_PG_DIR=${shellQuote(dir)}\n`);
} else if (command === 'stop' && args[0]) {
  // Refuse anything that is not one of our cluster dirs: stopCluster deletes it.
  if (!path.basename(args[0]).startsWith('earshot-pg-')) throw new Error(`not a cluster dir: ${args[0]}`);
  stopCluster(args[0]);
} else {
  process.stderr.write('usage: postgres-cli.ts start [--owner-pid PID] | stop DIR\n');
  process.exitCode = 2;
}
