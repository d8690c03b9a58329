/**
 * JSON request bodies: Fastify's own parser (which refuses `__proto__` and `constructor` keys), once
 * the body is known to nest no deeper than MAX_JSON_DEPTH. Deeper bodies parse, then overflow the
 * stack of whatever walks them later (storage, serialisation), so they are refused first.
 */
import type { FastifyInstance } from 'fastify';
import { EarshotError } from '../../core/errors.js';

/** Arrays and objects, counted together; job inputs and options need a handful. */
export const MAX_JSON_DEPTH = 64;

/** Whether `text` opens more than `limit` arrays or objects inside one another: one pass, strings skipped. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Replaces the application/json parser of `app` (and the plugins it registers later). */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      done(new EarshotError('bad_request', `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`, { details: { max_depth: MAX_JSON_DEPTH } }), undefined);
      return;
    }
    void parse(request, body as string, done);
  });
}
