/**
 * Notes on a real transcript (pocketsphinx), end to end through the API: offline extractive notes
 * on the embedded default, and notes written by a chat model behind a local OpenAI-compatible
 * server that first answers 429 and then malformed JSON.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { normalizeWords } from '../../src/core/wer.js';
import { validateNotesDocument } from '../../src/pipelines/notes/notes-schema.js';
import { reply, startChatServer } from '../support/chat-server.js';
import { form, SENSE, startEarshot, testEngines } from './transcription.harness.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'earshot-notes-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('notes without a chat model (extractive)', () => {
  it('GET ?format=notes and ?format=notes.md give validated notes drawn from the transcript', async () => {
    const earshot = await startEarshot({ 'data-dir': tempDir() }, {}, { engines: testEngines() });
    try {
      const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', formats: 'txt', notes: 'true' }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const job = await earshot.waitForJob(res.body.id);
      assert.equal(job.status, 'succeeded');
      const transcript = (await earshot.call('GET', `/v1/transcriptions/${job.id}?format=txt`)).body as string;

      const notes = await earshot.call('GET', `/v1/transcriptions/${job.id}?format=notes`);
      assert.equal(notes.status, 200);
      assert.match(notes.headers.get('content-type') ?? '', /application\/json/);
      const checked = validateNotesDocument(notes.body);
      assert.ok(checked.ok, JSON.stringify(checked));
      assert.equal(notes.body.source, 'extractive');
      assert.equal(notes.body.template, 'diary');
      assert.equal(notes.body.language, 'en');
      const words = new Set(normalizeWords(transcript));
      assert.ok(notes.body.key_points.length > 0);
      for (const point of notes.body.key_points) for (const w of normalizeWords(point)) assert.ok(words.has(w), `"${w}" of a key point is not in the transcript`);
      for (const tag of notes.body.tags) assert.ok(words.has(tag), `tag "${tag}" is not a word of the transcript`);

      const md = await earshot.call('GET', `/v1/transcriptions/${job.id}?format=notes.md`);
      assert.equal(md.status, 200);
      assert.match(md.headers.get('content-type') ?? '', /text\/markdown/);
      assert.ok((md.body as string).startsWith(`# ${notes.body.title}`));
      assert.match(md.body as string, /## Key points/);

      // The job itself says where its results are served.
      assert.deepEqual(Object.keys(job.links.results).sort(), ['notes', 'notes.md', 'txt']);
      assert.equal((await earshot.call('GET', job.links.results['notes.md'])).body, md.body);
      const links = await earshot.call('GET', `/v1/transcriptions/${job.id}/links`);
      assert.deepEqual(Object.keys(links.body.links).sort(), ['notes', 'notes.md', 'txt']);

      // A job that did not ask for notes has none; an unknown template is refused at once.
      const plain = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', formats: 'txt' }));
      await earshot.waitForJob(plain.body.id);
      assert.equal((await earshot.call('GET', `/v1/transcriptions/${plain.body.id}?format=notes`)).status, 404);
      const bad = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { notes: 'sonnet' }));
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error.code, 'unknown_note_template');
    } finally {
      await earshot.close();
    }
  });
});

describe('notes from a chat model', () => {
  it('waits out a 429, asks again after malformed JSON, and stores the model\'s notes', async () => {
    const chat = await startChatServer({ smart: true });
    const earshot = await startEarshot({ 'data-dir': tempDir() }, { EARSHOT_LLM_BASE_URL: chat.baseUrl, EARSHOT_LLM_MODEL: 'test-model' }, { engines: testEngines() });
    try {
      chat.script(reply.tooMany('1'), reply.malformed());
      const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', formats: 'txt', notes: 'meeting' }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const job = await earshot.waitForJob(res.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));

      assert.equal(chat.requests.length, 3, 'the 429, the malformed answer, the corrected answer');
      const notesTask = job.tasks.find((t: { step: string }) => t.step === 'transcribe.notes');
      assert.equal(notesTask.attempts, 2, 'the 429 cost one attempt');
      assert.equal(notesTask.errors[0].code, 'llm_unavailable');
      assert.ok(notesTask.errors[0].retry_after_ms >= 1000);
      // The retry carried the model's bad answer and what was wrong with it.
      const retry = chat.requests[2]!.body.messages as { role: string; content: string }[];
      assert.ok(retry.some((m) => m.role === 'assistant' && m.content.includes('Cut short')));
      assert.ok(retry.some((m) => m.role === 'user' && /JSON|schema/i.test(m.content)));
      assert.equal(chat.requests[0]!.body.response_format.type, 'json_schema');

      const notes = await earshot.call('GET', `/v1/transcriptions/${job.id}?format=notes`);
      assert.equal(notes.status, 200);
      assert.ok(validateNotesDocument(notes.body).ok);
      assert.equal(notes.body.source, 'llm');
      assert.equal(notes.body.template, 'meeting');
      assert.equal(notes.body.model, 'test-model');
      const md = (await earshot.call('GET', `/v1/transcriptions/${job.id}?format=notes.md`)).body as string;
      assert.match(md, /^# \S/);
      assert.ok(md.includes(notes.body.key_points[0]), md);
    } finally {
      await earshot.close();
      await chat.close();
    }
  });
});
