/**
 * A remote transcription server that answers 429 with Retry-After is asked again when it said, not on
 * the generic backoff: the hint travels as a typed retryAfterMs from the adapter through the worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createMockEngine } from '../../src/adapters/asr/mock/mock-engine.js';
import { startOpenAiAsrServer } from '../support/openai-asr-server.js';
import { form, SENSE, startEarshot } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-retry-after-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('an ASR 429 with Retry-After', () => {
  it('delays the next attempt of the asr step until the server said', async () => {
    // Well past the first backoff (2 s less jitter), so an attempt on the generic schedule would come too early.
    const retryAfterSeconds = 5;
    const asr = await startOpenAiAsrServer(createMockEngine({ seed: 3 }), 'en', {
      answerFirst: [{ status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body: { error: { message: 'Rate limit reached' } } }],
    });
    const earshot = await startEarshot({ 'data-dir': dir }, { EARSHOT_OPENAI_ASR_BASE_URL: asr.baseUrl });
    try {
      const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', engine: 'openai', formats: 'txt' }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const job = await earshot.waitForJob(res.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));

      const asrTasks = job.tasks.filter((t: { step: string }) => t.step.startsWith('transcribe.asr'));
      const retried = asrTasks.find((t: { attempts: number }) => t.attempts === 2);
      assert.ok(retried, `one asr task took two attempts: ${JSON.stringify(asrTasks.map((t: { attempts: number }) => t.attempts))}`);
      assert.equal(retried.errors[0].code, 'asr_failed');
      assert.equal(retried.errors[0].retry_after_ms, retryAfterSeconds * 1000);

      assert.equal(asr.arrivals.length, asrTasks.length + 1, 'one request per chunk, and the one that was refused');
      const waited = asr.arrivals[1]! - asr.arrivals[0]!;
      assert.ok(waited >= retryAfterSeconds * 1000 - 50, `asked again after ${waited} ms, before the ${retryAfterSeconds} s the server asked for`);
    } finally {
      await earshot.close();
      await asr.close();
    }
  });
});
