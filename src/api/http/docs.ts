/**
 * OpenAPI, generated from the routes' JSON schemas: the spec at `/docs/json`, Swagger UI at `/docs`.
 * Registered before the routes, since the generator collects routes as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export function registerDocs(app: FastifyInstance, options: { version: string; authRequired: boolean }): void {
  void app.register(swagger, {
    // Shared schemas become components named by their $id (Job, Task, Error), not def-0, def-1 ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Earshot API',
        version: options.version,
        description:
          'Jobs on the Earshot media pipeline. Errors are `{ "error": { "code", "message", "details" } }`. ' +
          (options.authRequired
            ? 'This server requires an API key on every /v1 route except /v1/health and /v1/ready.'
            : 'This server runs without authentication (loopback only).'),
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      // Either scheme works; routes that need no key say `security: []`.
      security: [{ bearer: [] }, { apiKey: [] }],
      tags: [
        { name: 'jobs', description: 'Submit jobs and follow them' },
        { name: 'operations', description: 'Health, readiness, metrics' },
      ],
    },
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
}
