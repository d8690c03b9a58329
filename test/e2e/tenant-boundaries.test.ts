import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { boundaryEnv, boundaryFlags, tenantBoundaryCases } from './tenant-boundaries.case.js';
import { startEarshot, testEngines } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-tenants-'));
after(() => rmSync(dir, { recursive: true, force: true }));

tenantBoundaryCases('SQLite + disk', () => startEarshot({ 'data-dir': dir, ...boundaryFlags }, { ...boundaryEnv }, { engines: testEngines() }));
