/**
 * A job's live events over Server-Sent Events: `GET /v1/jobs/{id}/events`. The events come from
 * `watchJob` (engine/job-events.ts), which also defines their ids and what resuming sends. The stream
 * ends after the `end` event, when the client goes away, or when the server closes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Engine } from '../../engine/engine.js';
import { watchJob, type JobEvent } from '../../engine/job-events.js';
import { errorResponses } from './errors.js';

export interface EventsRoutesOptions {
  /** How often a stream looks for progress, which the store does not publish. Default 1000. */
  pollMs?: number;
  /** A `: keep-alive` comment this often, so proxies keep an idle stream open. Default 15000. */
  keepAliveMs?: number;
  /** The reconnection delay suggested to clients (`retry:`). Default 2000. */
  retryMs?: number;
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;
const eventId = { type: 'string', maxLength: 100 } as const;

/** One SSE message. The data is single-line JSON, so one `data:` field carries it. */
export function sseFrame(event: JobEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** Resolves when the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function eventsRoutes(engine: Engine, options: EventsRoutesOptions = {}): FastifyPluginAsync {
  const { pollMs = 1000, keepAliveMs = 15_000, retryMs = 2000 } = options;

  return async (app) => {
    // Open streams would hold server.close() forever: end them first.
    const open = new Set<AbortController>();
    let closing = false;
    app.addHook('preClose', (done) => {
      closing = true;
      for (const c of open) c.abort();
      done();
    });

    app.get<{ Params: { id: string }; Querystring: { last_event_id?: string }; Headers: { 'last-event-id'?: string } }>(
      '/v1/jobs/:id/events',
      {
        schema: {
          summary: "A job's live events (Server-Sent Events)",
          description:
            'A `text/event-stream` of `status` ({job_id, status, error, finished_at}), `progress` ({job_id, steps, progress, done, total}) ' +
            'and a last `end` once the job is settled. It starts with a `status` and a `progress` snapshot. Event ids are versions of the job; ' +
            'reconnect with `Last-Event-ID` (or `?last_event_id=`) to get only newer state: nothing until the job changes if the id is current, ' +
            'else one snapshot in which whatever was missed is collapsed. A `: keep-alive` comment comes every 15 s.',
          tags: ['jobs'],
          params: idParams,
          headers: { type: 'object', properties: { 'last-event-id': eventId } },
          querystring: { type: 'object', properties: { last_event_id: { ...eventId, description: 'For clients that cannot set Last-Event-ID.' } } },
          response: {
            200: { description: 'The event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errorResponses(400, 401, 404),
          },
        },
      },
      async (request, reply) => {
        const jobId = request.params.id;
        // Unknown jobs and other tenants' answer a JSON 404 before any byte of the stream.
        await engine.getJob(jobId, request.tenantId);
        const lastEventId = request.headers['last-event-id'] ?? request.query.last_event_id;

        const controller = new AbortController();
        const res = reply.raw;
        const stop = () => controller.abort();
        reply.hijack();
        res.on('close', stop);
        open.add(controller);
        res.writeHead(200, {
          // What hooks set (x-request-id) would otherwise be lost with the hijack.
          ...(reply.getHeaders() as OutgoingHttpHeaders),
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
          connection: 'keep-alive',
        });
        res.write(`retry: ${retryMs}\n\n`);
        const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
        try {
          const events = watchJob(engine, jobId, {
            tenantId: request.tenantId,
            signal: controller.signal,
            pollMs,
            ...(lastEventId ? { lastEventId } : {}),
          });
          for await (const event of events) {
            if (!res.write(sseFrame(event))) await drained(res);
          }
        } catch (err) {
          // Headers are gone; the client reconnects with its last id.
          request.log.error({ err, job_id: jobId }, 'job event stream failed');
        } finally {
          clearInterval(keepAlive);
          res.off('close', stop);
          open.delete(controller);
          // Ended by the server closing: its idle keep-alive connection would hold close() until the client drops it.
          const socket = res.socket;
          if (closing) res.end(() => socket?.destroy());
          else res.end();
        }
      },
    );
  };
}
