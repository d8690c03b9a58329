import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { transcriptionCases } from './transcription.case.js';
import { startEarshot, testEngines } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

transcriptionCases('embedded default (SQLite + disk)', () => startEarshot({ 'data-dir': dir }, {}, { engines: testEngines() }));
