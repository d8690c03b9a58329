import { EarshotError } from '../../core/errors.js';
import type { AsrCapabilities, AsrEngine, AsrEngines } from '../../ports/asr-engine.js';

export interface EngineFactory {
  /** What the engine will be able to do, known without loading it. */
  capabilities: AsrCapabilities;
  create(): AsrEngine | Promise<AsrEngine>;
}

/**
 * The engines of this process, each created on first use and then kept: a model loads once per
 * worker process. Concurrent first calls share one load.
 */
export function createAsrEngines(defaultEngine: string, factories: Record<string, EngineFactory>): AsrEngines {
  const loading = new Map<string, Promise<AsrEngine>>();
  return {
    defaultEngine,
    names: () => Object.keys(factories),
    capabilities: (name) => factories[name]?.capabilities,
    get(name) {
      const factory = factories[name];
      if (!factory) return Promise.reject(new EarshotError('unsupported_engine', `no engine "${name}" on this worker`, { details: { engines: Object.keys(factories) } }));
      let engine = loading.get(name);
      if (!engine) {
        engine = Promise.resolve(factory.create());
        // A failed load is not cached: the next task tries again.
        engine.catch(() => loading.delete(name));
        loading.set(name, engine);
      }
      return engine;
    },
    async close() {
      const engines = await Promise.allSettled(loading.values());
      loading.clear();
      await Promise.all(engines.map((e) => (e.status === 'fulfilled' ? e.value.close() : undefined)));
    },
  };
}
