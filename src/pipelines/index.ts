import type { Registry } from '../engine/registry.js';
import { registerDiagnostics } from './diagnostics/diagnostics.js';
import { registerTranscribe, type TranscribeDeps } from './transcribe/transcribe.js';

/** Every job kind and task type this build of Earshot knows. */
export function registerPipelines(registry: Registry, deps: TranscribeDeps): Registry {
  registerDiagnostics(registry);
  registerTranscribe(registry, deps);
  return registry;
}
