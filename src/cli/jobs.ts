import { EarshotError } from '../core/errors.js';
import { isPriority, jobStatuses, type JobStatus } from '../core/job.js';
import { watchJob, type JobEvent } from '../engine/job-events.js';
import { LOCAL_TENANT, createApp } from '../app.js';
import { EarshotClient } from './client.js';
import { DB_SETTINGS, type Command } from './command.js';
import { currentStep, followJob, outcomeText, remoteJobEvents, type JobView } from './follow.js';
import { ProgressBar } from './progress.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Draws a job's progress (tasks done of tasks known, the step at work) from its events until it settles. */
async function watch(jobId: string, events: AsyncIterable<JobEvent>, err: NodeJS.WriteStream): Promise<JobView> {
  const bar = new ProgressBar(jobId, err);
  const job = await followJob(events, (v) => {
    bar.update(v.done, v.total, v.finished ? v.status : (currentStep(v) ?? v.status));
  });
  bar.finish(outcomeText(job));
  return job;
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'Looks at and acts on jobs directly in the database (an operator tool; clients use the HTTP API). watch can also follow a job on a server (--server).',
  usage:
    'earshot jobs list [--status S] [--tenant T] | show ID | submit KIND [--input JSON] [--priority P] [--wait] | watch ID [--server URL] | cancel ID | retry ID [--from-step STEP] | dead [--tenant T]',
  settings: [...DB_SETTINGS, 'storage', 'signingSecret', 'serverUrl', 'apiKey'],
  options: {
    status: { type: 'string' },
    tenant: { type: 'string' },
    limit: { type: 'string' },
    input: { type: 'string' },
    priority: { type: 'string' },
    wait: { type: 'boolean' },
    'from-step': { type: 'string' },
  },
  optionsHelp: [
    '  --status S        list: only jobs with this status (queued, running, succeeded, failed, cancelled)',
    '  --tenant T        the tenant (default: local, the tenant used when auth is off)',
    '  --limit N         list, dead: how many (default 50)',
    '  --input JSON      submit: the job input',
    '  --priority P      submit: urgent, high, normal (default) or low',
    '  --wait            submit: show a progress bar until the job finishes',
    '  --from-step STEP  retry: run this step and everything after it again',
    '  --server URL      watch: follow the job on a running server (its event stream) instead of in the database',
  ].join('\n'),
  async run(ctx) {
    const [action, arg] = ctx.args;
    const need = (what: string) => {
      if (!arg) throw new EarshotError('bad_request', `jobs ${action} needs ${what}`);
      return arg;
    };
    const config = ctx.config();
    // The command ends with the job (or the process): nothing stops a watch early.
    const signal = new AbortController().signal;
    if (ctx.values.server !== undefined && action !== 'watch') {
      throw new EarshotError('bad_request', `--server works with jobs watch only; jobs ${action ?? ''} reads the database (use the HTTP API for a server)`);
    }
    if (action === 'watch' && config.client.serverUrl) {
      const client = new EarshotClient({ serverUrl: config.client.serverUrl, apiKey: config.client.apiKey });
      const jobId = need('a job id');
      return (await watch(jobId, remoteJobEvents(client, jobId), process.stderr)).status === 'succeeded' ? 0 : 1;
    }
    const app = await createApp({ ...config, logLevel: 'warn' });
    const tenant = str(ctx.values.tenant);
    const print = (v: unknown) => ctx.out.write(`${JSON.stringify(v, null, 2)}\n`);
    const follow = (jobId: string) => watch(jobId, watchJob(app.engine, jobId, { signal, pollMs: 250, ...(tenant ? { tenantId: tenant } : {}) }), process.stderr);
    try {
      switch (action) {
        case 'list': {
          const status = str(ctx.values.status);
          if (status !== undefined && !jobStatuses.includes(status as JobStatus)) throw new EarshotError('bad_request', `--status must be one of ${jobStatuses.join(', ')}`);
          const jobs = await app.engine.listJobs({ ...(tenant ? { tenantId: tenant } : {}), ...(status ? { status: status as JobStatus } : {}), limit: Number(ctx.values.limit ?? 50) });
          for (const j of jobs) {
            const done = j.steps.reduce((a, s) => a + s.done, 0);
            const total = j.steps.reduce((a, s) => a + s.total, 0);
            ctx.out.write(`${j.id}\t${j.tenantId}\t${j.kind}\t${j.status}\t${done}/${total}\t${new Date(j.createdAt).toISOString()}${j.error ? `\t${j.error.code}` : ''}\n`);
          }
          return 0;
        }
        case 'show':
          print(await app.engine.getJob(need('a job id'), tenant));
          return 0;
        case 'watch':
          return (await follow(need('a job id'))).status === 'succeeded' ? 0 : 1;
        case 'submit': {
          const priority = str(ctx.values.priority) ?? 'normal';
          if (!isPriority(priority)) throw new EarshotError('bad_request', '--priority must be urgent, high, normal or low');
          let input: unknown = {};
          try {
            input = JSON.parse(str(ctx.values.input) ?? '{}');
          } catch {
            throw new EarshotError('bad_request', '--input must be JSON');
          }
          // An operator's command: internal kinds (a notification sent by hand) are allowed, as for the pipelines.
          const { job } = await app.engine.submit({ tenantId: tenant ?? LOCAL_TENANT, kind: need('a job kind'), input: input as never, priority, internal: true });
          ctx.out.write(`${job.id}\n`);
          if (ctx.values.wait) return (await follow(job.id)).status === 'succeeded' ? 0 : 1;
          return 0;
        }
        case 'cancel':
          print(await app.engine.cancel(need('a job id'), tenant));
          return 0;
        case 'retry':
          print(await app.engine.retry(need('a job id'), str(ctx.values['from-step']), tenant));
          return 0;
        case 'dead':
          for (const t of await app.engine.listDead({ ...(tenant ? { tenantId: tenant } : {}), limit: Number(ctx.values.limit ?? 50) })) {
            const last = t.errors.at(-1);
            ctx.out.write(`${t.jobId}\t${t.id}\t${t.type}\t${t.attempts}/${t.maxAttempts}\t${last ? `${last.code}: ${last.message}` : ''}\n`);
          }
          return 0;
        default:
          throw new EarshotError('bad_request', `usage: ${jobsCommand.usage}`);
      }
    } finally {
      await app.close();
    }
  },
};
