/**
 * Jobs: submit, list, read, cancel, retry, and the dead-letter view. Every route acts for
 * `request.tenantId` (set by the auth hook), so a tenant never sees or touches another's jobs.
 */
import type { FastifyPluginAsync } from 'fastify';
import { jobStatuses, type Json, type JobStatus, type Priority } from '../../core/job.js';
import type { Engine } from '../../engine/engine.js';
import { errorResponses } from './errors.js';
import { deadTaskJson, jobDetailJson, jobJson } from './job-json.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;
const limit = { type: 'integer', minimum: 1, maximum: 500, default: 50 } as const;
const tags = ['jobs'];

export function jobsRoutes(engine: Engine): FastifyPluginAsync {
  const now = () => engine.clock.now();
  const detail = async (jobId: string, tenantId: string) => jobDetailJson(await engine.getJob(jobId, tenantId), now());

  return async (app) => {
    app.get<{ Querystring: { status?: JobStatus; kind?: string; limit: number; before?: string } }>(
      '/v1/jobs',
      {
        schema: {
          summary: 'List jobs, newest first',
          description: 'Pages backwards in time: pass `next_before` of one page as `before` to get the next; it is null once a page comes back short.',
          tags,
          querystring: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: jobStatuses },
              kind: { type: 'string', maxLength: 100 },
              limit,
              before: { type: 'string', maxLength: 100, description: 'A job id: only jobs created before it.' },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: { data: { type: 'array', items: { $ref: 'Job#' } }, next_before: { type: ['string', 'null'] } },
            },
            ...errorResponses(400, 401),
          },
        },
      },
      async (request) => {
        const q = request.query;
        const jobs = await engine.listJobs({
          tenantId: request.tenantId,
          limit: q.limit,
          ...(q.status ? { status: q.status } : {}),
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.before ? { before: q.before } : {}),
        });
        const last = jobs.at(-1);
        return { data: jobs.map((j) => jobJson(j, now())), next_before: jobs.length === q.limit && last ? last.id : null };
      },
    );

    app.post<{ Body: { kind: string; input: Json; priority: Priority }; Headers: { 'idempotency-key'?: string } }>(
      '/v1/jobs',
      {
        schema: {
          summary: 'Submit a job',
          description:
            `Answers 202 with the new job. With an \`Idempotency-Key\` header, a second request with the same key and the same kind, input ` +
            `and priority answers 200 with the job the first one created and \`Idempotent-Replayed: true\`; the same key with another ` +
            `kind, input or priority answers 409 \`conflict\` (details.job_id: the first job). Objects the input names (an upload) must be ` +
            `the caller's own (404 otherwise). Kinds: ${engine.registry.publicJobKinds().join(', ')}.`,
          tags,
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } },
          },
          body: {
            type: 'object',
            required: ['kind'],
            additionalProperties: false,
            properties: {
              kind: { type: 'string', minLength: 1, maxLength: 100, examples: engine.registry.publicJobKinds() },
              input: { description: 'The job kind\'s input (JSON).', default: {} },
              priority: { type: 'string', enum: ['urgent', 'high', 'normal', 'low'], default: 'normal' },
            },
          },
          response: { 202: { $ref: 'JobDetail#' }, 200: { $ref: 'JobDetail#' }, ...errorResponses(400, 401, 404, 409, 413) },
        },
      },
      async (request, reply) => {
        const { kind, input, priority } = request.body;
        const idempotencyKey = request.headers['idempotency-key'];
        const { job, created } = await engine.submit({ tenantId: request.tenantId, kind, input, priority, ...(idempotencyKey ? { idempotencyKey } : {}) });
        const body = await detail(job.id, request.tenantId);
        reply.header('location', body.links.self);
        if (!created) reply.header('idempotent-replayed', 'true');
        return reply.code(created ? 202 : 200).send(body);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/v1/jobs/:id',
      {
        schema: { summary: 'A job with its tasks', tags, params: idParams, response: { 200: { $ref: 'JobDetail#' }, ...errorResponses(401, 404) } },
      },
      async (request) => detail(request.params.id, request.tenantId),
    );

    app.post<{ Params: { id: string } }>(
      '/v1/jobs/:id/cancel',
      {
        schema: {
          summary: 'Cancel a job that has not finished',
          description: 'Pending tasks are cancelled at once and running handlers are aborted. 409 when the job has already finished.',
          tags,
          params: idParams,
          response: { 202: { $ref: 'JobDetail#' }, ...errorResponses(401, 404, 409) },
        },
      },
      async (request, reply) => {
        await engine.cancel(request.params.id, request.tenantId);
        return reply.code(202).send(await detail(request.params.id, request.tenantId));
      },
    );

    app.post<{ Params: { id: string }; Body: { from_step?: string } | null | undefined }>(
      '/v1/jobs/:id/retry',
      {
        schema: {
          summary: 'Run a finished job again',
          description:
            'Without a body, runs whatever did not succeed. With `from_step`, also runs that step and everything downstream of it again; ' +
            'upstream results are kept. 409 when the job has not finished; 422 `unknown_step` (details.steps) for a step the job does not have.',
          tags,
          params: idParams,
          body: { type: ['object', 'null'], additionalProperties: false, properties: { from_step: { type: 'string', minLength: 1, maxLength: 200 } } },
          response: { 202: { $ref: 'JobDetail#' }, ...errorResponses(400, 401, 404, 409, 422) },
        },
      },
      async (request, reply) => {
        await engine.retry(request.params.id, request.body?.from_step, request.tenantId);
        return reply.code(202).send(await detail(request.params.id, request.tenantId));
      },
    );

    app.get<{ Querystring: { limit: number } }>(
      '/v1/dead-letter',
      {
        schema: {
          summary: 'Dead tasks, newest first',
          description: 'Tasks that ran out of attempts or failed for good, with their error history. Retry their job to run them again.',
          tags,
          querystring: { type: 'object', properties: { limit } },
          response: { 200: { type: 'object', properties: { data: { type: 'array', items: { $ref: 'DeadTask#' } } } }, ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const dead = await engine.listDead({ tenantId: request.tenantId, limit: request.query.limit });
        return { data: dead.map((t) => deadTaskJson(t, now())) };
      },
    );
  };
}
