import { EarshotError } from '../core/errors.js';
import { isPriority, jobStatuses, type JobStatus } from '../core/job.js';
import { LOCAL_TENANT, createApp, type App } from '../app.js';
import type { JobDetail } from '../ports/store.js';
import { DB_SETTINGS, type Command } from './command.js';
import { ProgressBar } from './progress.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Draws a job's progress (tasks done of tasks known) until it finishes. */
async function watch(app: App, jobId: string, err: NodeJS.WriteStream): Promise<JobDetail> {
  const bar = new ProgressBar(jobId, err);
  const draw = (job: JobDetail) => {
    const total = job.steps.reduce((a, s) => a + s.total, 0);
    const done = job.steps.reduce((a, s) => a + s.done, 0);
    const current = job.steps.find((s) => s.state === 'running' || s.state === 'pending');
    bar.update(done, total, current ? current.step : job.status);
  };
  let job = await app.engine.getJob(jobId);
  const unsubscribe = app.store.subscribe(() => {
    void app.engine.getJob(jobId).then(draw, () => {});
  });
  try {
    while (job.finishedAt === null) {
      draw(job);
      await new Promise((r) => setTimeout(r, 250));
      job = await app.engine.getJob(jobId);
    }
  } finally {
    unsubscribe();
  }
  draw(job);
  bar.finish(job.status + (job.error ? `: ${job.error.code}: ${job.error.message}` : ''));
  return job;
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'Looks at and acts on jobs directly in the database (an operator tool; clients use the HTTP API).',
  usage:
    'earshot jobs list [--status S] [--tenant T] | show ID | submit KIND [--input JSON] [--priority P] [--wait] | watch ID | cancel ID | retry ID [--from-step STEP] | dead [--tenant T]',
  settings: [...DB_SETTINGS, 'storage', 'signingSecret'],
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
  ].join('\n'),
  async run(ctx) {
    const [action, arg] = ctx.args;
    const app = await createApp({ ...ctx.config(), logLevel: 'warn' });
    const tenant = str(ctx.values.tenant);
    const print = (v: unknown) => ctx.out.write(`${JSON.stringify(v, null, 2)}\n`);
    const need = (what: string) => {
      if (!arg) throw new EarshotError('bad_request', `jobs ${action} needs ${what}`);
      return arg;
    };
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
        case 'watch': {
          const job = await watch(app, need('a job id'), process.stderr);
          return job.status === 'succeeded' ? 0 : 1;
        }
        case 'submit': {
          const priority = str(ctx.values.priority) ?? 'normal';
          if (!isPriority(priority)) throw new EarshotError('bad_request', '--priority must be urgent, high, normal or low');
          let input: unknown = {};
          try {
            input = JSON.parse(str(ctx.values.input) ?? '{}');
          } catch {
            throw new EarshotError('bad_request', '--input must be JSON');
          }
          const { job } = await app.engine.submit({ tenantId: tenant ?? LOCAL_TENANT, kind: need('a job kind'), input: input as never, priority });
          ctx.out.write(`${job.id}\n`);
          if (ctx.values.wait) return (await watch(app, job.id, process.stderr)).status === 'succeeded' ? 0 : 1;
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
