import type { Registry } from '../engine/registry.js';
import { registerDiagnostics } from './diagnostics/diagnostics.js';

/** Every job kind and task type this build of Earshot knows. */
export function registerPipelines(registry: Registry): Registry {
  registerDiagnostics(registry);
  return registry;
}
