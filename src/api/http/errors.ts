/**
 * The one place that turns errors into HTTP answers. Every error body is
 * `{ "error": { "code", "message", "details" } }`; codes are EarshotError codes, so a client can branch
 * on them without parsing messages. Anything unexpected is a 500 whose message stays in the log.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EarshotError, isErrorCode, type ErrorCode } from '../../core/errors.js';

/**
 * Every code's status, checked by the compiler: a new code cannot fall through to a 500.
 * unknown_job_kind is 400 like any other unknown value in the request's shape (details.kinds lists the
 * known ones); unknown_step is 422 because the request is well formed but names a step that this
 * particular job does not have (details.steps lists the job's steps). Codes at 500 are the server's
 * own failures: their message stays in the log and the client sees `internal`.
 */
const statusByCode: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  invalid_dag: 400,
  unknown_job_kind: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  unprocessable: 422,
  unknown_step: 422,
  // Transcription requests the workers cannot serve, or media they refuse (the synchronous routes).
  unsupported_language: 422,
  unsupported_engine: 422,
  unsupported_media: 422,
  corrupt_media: 422,
  media_limit_exceeded: 422,
  // Notification targets this server cannot or will not reach, and notes it cannot make.
  email_unavailable: 422,
  webhook_refused: 422,
  unknown_note_template: 422,
  notes_invalid: 422,
  model_not_found: 404,
  rate_limited: 429,
  // A service behind a synchronous request failed (after its retries).
  asr_failed: 502,
  llm_failed: 502,
  llm_unavailable: 503,
  email_failed: 502,
  webhook_unreachable: 502,
  webhook_failed: 502,
  download_failed: 502,
  checksum_mismatch: 502,
  size_mismatch: 502,
  http_error: 502,
  unavailable: 503,
  shutdown: 503,
  // The engine's own states: never a client's doing.
  internal: 500,
  invalid_config: 500,
  cancelled: 500,
  lease_expired: 500,
  lease_lost: 500,
  unknown_task_type: 500,
  handler_failed: 500,
};

/**
 * Fastify's own client errors (URLs, body parsing, media types, multipart limits) under our codes, and
 * with our codes' statuses: by their code where the status they carry is not ours (the multipart
 * plugin answers a body that is not multipart with 406), else by their status.
 */
const byFastifyCode: Readonly<Record<string, { code: ErrorCode; message?: string }>> = {
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'unsupported_media_type', message: 'this route takes multipart/form-data' },
  FST_INVALID_JSON_FIELD_ERROR: { code: 'bad_request', message: 'a form field declared as JSON is not valid JSON' },
  FST_PROTO_VIOLATION: { code: 'bad_request', message: 'a form field has a reserved name' },
  FST_FILES_LIMIT: { code: 'payload_too_large', message: 'the form has more files than this route takes (one, in the field "file")' },
  FST_FIELDS_LIMIT: { code: 'payload_too_large', message: 'the form has too many fields' },
  FST_PARTS_LIMIT: { code: 'payload_too_large', message: 'the form has too many parts' },
  FST_REQ_FILE_TOO_LARGE: { code: 'payload_too_large', message: 'the file is too large' },
  FST_MP_PREMATURE_CLOSE: { code: 'bad_request', message: 'the request ended before the form did' },
};
const codeByStatus: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> | null };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, details: details ?? null } };
}

export function statusForCode(code: string): number {
  return isErrorCode(code) ? statusByCode[code] : 500;
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}

/** Status and body for anything thrown while handling a request. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; retryAfterMs?: number } {
  if (err instanceof EarshotError) {
    const status = statusByCode[err.code];
    if (status === 500) return internal();
    return { status, body: errorBody(err.code, err.message, err.details), ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  const e = (err ?? {}) as FastifyLikeError;
  if (Array.isArray(e.validation)) {
    const where = e.validationContext ?? 'request';
    // An unknown property is named, so a misspelt option does not have to be guessed from `params`.
    const unknownName = (v: { keyword?: string; params?: Record<string, unknown> }) =>
      v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string' ? v.params.additionalProperty : undefined;
    const problems = e.validation.map((v) => {
      const unknown = unknownName(v);
      return { in: where, path: v.instancePath || '/', message: unknown !== undefined ? `has an unknown property "${unknown}"` : (v.message ?? 'is invalid'), ...(v.params ? { params: v.params } : {}) };
    });
    const unknown = e.validation.map(unknownName).filter((n) => n !== undefined);
    const details = { problems, ...(unknown.length > 0 ? { unknown } : {}) };
    return { status: 400, body: errorBody('bad_request', `invalid ${where}: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, details) };
  }
  // Only Fastify's own errors are trusted to carry a client status; others may leak internals.
  if (typeof e.code === 'string' && e.code.startsWith('FST_') && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const known = byFastifyCode[e.code];
    const code = known?.code ?? codeByStatus[e.statusCode] ?? 'bad_request';
    const message = known?.message ?? (typeof e.message === 'string' ? e.message : code);
    return { status: statusByCode[code], body: errorBody(code, message) };
  }
  return internal();
}

function internal(): { status: number; body: ErrorBody } {
  return { status: 500, body: errorBody('internal', 'internal error') };
}

/** Retry-After of a 503 whose error named no wait of its own. */
const UNAVAILABLE_RETRY_AFTER_MS = 2000;

/** Fastify error handler: maps, logs server errors with their stack, and asks for credentials on 401. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, retryAfterMs } = toHttpError(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  else request.log.debug({ err_code: body.error.code, status }, 'request refused');
  // Refused before its body was read (an upload with bad options): the rest of the body is still on
  // the wire, so this connection cannot carry another request. Closing it beats reading gigabytes.
  if (!request.raw.complete) void reply.header('connection', 'close');
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="earshot"');
  // A 503 always says when to come back, whether or not the failure named a wait.
  const waitMs = retryAfterMs ?? (status === 503 ? UNAVAILABLE_RETRY_AFTER_MS : undefined);
  if (waitMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
  return reply.code(status).send(body);
}

/** Unknown routes answer like every other error, not with Fastify's default body. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = (request.raw.url ?? '').split('?')[0];
  return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`));
}

/** The JSON schema of an error body, for OpenAPI and serialization. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. not_found, conflict, bad_request.' },
        message: { type: 'string' },
        details: { type: ['object', 'null'], additionalProperties: true },
      },
    },
  },
} as const;

/** `response` entries for the given error statuses, all with the error body. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: 'Error#' }]));
}
