export { buildHttpServer, type HttpDeps } from './server.js';
export { createMetrics, type Metrics, type MetricsOptions } from './metrics.js';
export { errorBody, toHttpError, type ErrorBody } from './errors.js';
export type { DeadTaskJson, JobDetailJson, JobJson, TaskJson } from './job-json.js';
