/**
 * The dependency arrows of docs/ARCHITECTURE.md, checked: core <- ports <- engine/pipelines/api <-
 * adapters <- app.ts <- cli; no import cycles; process.env read only in src/config.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = sourceFiles(SRC);
const layerOf = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.ts$/, '');
};
const imports = new Map(
  files.map((f) => {
    const text = readFileSync(f, 'utf8');
    const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)].map((m) => resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts')));
    return [f, targets] as const;
  }),
);

const allowed: Record<string, string[]> = {
  core: ['core'],
  ports: ['core', 'ports'],
  config: ['core', 'config'],
  engine: ['core', 'ports', 'engine'],
  pipelines: ['core', 'ports', 'engine', 'pipelines'],
  // The API exposes pipelines' own routes (transcriptions); pipelines never import the API.
  api: ['core', 'ports', 'engine', 'pipelines', 'api'],
  adapters: ['core', 'ports', 'adapters'],
  app: ['core', 'ports', 'config', 'engine', 'pipelines', 'api', 'adapters', 'app'],
  cli: ['core', 'ports', 'config', 'engine', 'pipelines', 'api', 'adapters', 'app', 'cli'],
};

describe('architecture', () => {
  it('imports only point inward', () => {
    const wrong: string[] = [];
    for (const [file, targets] of imports) {
      const from = layerOf(file);
      for (const t of targets) {
        const to = layerOf(t);
        if (!(allowed[from] ?? []).includes(to)) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, t)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('has no import cycles', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const t of imports.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });

  it('reads process.env only in src/config', () => {
    const readers = files.filter((f) => layerOf(f) !== 'config' && /process\.env/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(readers.map((f) => relative(SRC, f)), []);
  });
});
