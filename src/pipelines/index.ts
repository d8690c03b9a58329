import type { Registry } from '../engine/registry.js';
import { registerDiagnostics } from './diagnostics/diagnostics.js';
import { registerNotify, type NotifyDeps } from './notify/notify.js';
import { describeTranscription } from './transcribe/describe.js';
import { registerTranscribe, TRANSCRIPTION, type TranscribeDeps } from './transcribe/transcribe.js';

export interface PipelineDeps extends TranscribeDeps {
  /** Notifications; without them no job gets a notify step. */
  notify?: Omit<NotifyDeps, 'describers'>;
}

/** How each job kind presents itself in notifications. */
export const describers: NotifyDeps['describers'] = { [TRANSCRIPTION]: describeTranscription };

/** Every job kind and task type this build of Earshot knows. */
export function registerPipelines(registry: Registry, deps: PipelineDeps): Registry {
  registerDiagnostics(registry);
  registerTranscribe(registry, deps);
  if (deps.notify) registerNotify(registry, { ...deps.notify, describers });
  return registry;
}
