/**
 * writeNotes through the openai-compatible adapter and a local chat server: the retry of a bad
 * answer with its errors, giving up after two, long transcripts in parts plus a merge, failures and
 * aborts passing through, and an end-to-end run on a real transcript in smart mode.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createOpenAiCompatibleLlm } from '../../src/adapters/llm/openai-compatible/openai-compatible-llm.js';
import { validateNotesDocument } from '../../src/pipelines/notes/notes-schema.js';
import { renderNotesMarkdown } from '../../src/pipelines/notes/render-notes.js';
import { writeNotes } from '../../src/pipelines/notes/write-notes.js';
import { reply, sampleNotes, startChatServer, type ChatServer } from '../support/chat-server.js';
import { hasSpeech, readManifest } from '../support/speech.js';

async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

const transcript = { text: 'I walked in the park today. Then I planned the week.', language: 'en' };

describe('writeNotes over the openai-compatible adapter', () => {
  let server: ChatServer;
  before(async () => {
    server = await startChatServer({ smart: true });
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
  });
  const llm = (timeoutMs = 5_000) => createOpenAiCompatibleLlm({ baseUrl: server.baseUrl, model: 'notes-model', timeoutMs });

  it('turns a well-formed answer into a document', async () => {
    server.script(reply.answer(sampleNotes()));
    const doc = await writeNotes(llm(), transcript, { template: 'diary' });
    assert.deepEqual(doc, { ...sampleNotes(), source: 'llm', template: 'diary', model: 'notes-model' });
    assert.equal(server.requests.length, 1);
    const [system, user] = server.requests[0]!.body.messages;
    assert.match(system.content, /diary/);
    assert.match(system.content, /English \(ISO 639-1 code "en"\)/);
    assert.match(user.content, /<transcript>\nI walked in the park today\. Then I planned the week\.\n<\/transcript>/);
  });

  it('asks once more after malformed JSON, sending the answer and the error', async () => {
    server.script(reply.malformed(), reply.answer(sampleNotes({ title: 'Second try' })));
    const doc = await writeNotes(llm(), transcript, { template: 'diary' });
    assert.equal(doc.title, 'Second try');
    assert.equal(server.requests.length, 2);
    const retry = server.requests[1]!.body.messages as { role: string; content: string }[];
    assert.deepEqual(retry.slice(0, 2), server.requests[0]!.body.messages);
    assert.equal(retry[2]!.role, 'assistant');
    assert.equal(retry[2]!.content, (reply.malformed() as { content: string }).content);
    assert.equal(retry[3]!.role, 'user');
    assert.match(retry[3]!.content, /not valid JSON/);
  });

  it('gives up with notes_invalid after two answers that break the schema', async () => {
    server.script(reply.answer(sampleNotes({ key_points: ['fine', 2] })), reply.answer(sampleNotes({ mood: 3, extra: true })));
    const err = await failure(writeNotes(llm(), transcript, { template: 'meeting' }));
    assert.equal(err.code, 'notes_invalid');
    assert.equal(err.retryable, false);
    assert.deepEqual(err.details.first_errors, ['/key_points/1: must be string']);
    assert.ok(err.details.errors.includes('/mood: must be string,null'), err.details.errors.join('; '));
    assert.ok(err.details.errors.some((e: string) => /additional properties \(extra\)/.test(e)));
    assert.match(server.requests[1]!.body.messages[3].content, /\/key_points\/1: must be string/);
  });

  it('summarises a long transcript in parts, then merges the partial notes in one call', async () => {
    const sentences = Array.from({ length: 130 }, (_, i) => `Sentence number ${i + 1} talks about the garden and the weather.`);
    const doc = await writeNotes(llm(), { text: sentences.join(' '), language: 'en', durationMs: 600_000 }, { template: 'lecture', maxCharsPerPart: 3_000 });
    const users = server.requests.map((r) => r.body.messages.at(-1).content as string);
    const parts = users.filter((u) => u.includes('<transcript>'));
    assert.ok(parts.length >= 3, `${parts.length} parts`);
    assert.equal(server.requests.length, parts.length + 1);
    assert.match(users.at(-1)!, /<partial_notes>/);
    assert.match(parts[0]!, new RegExp(`part 1 of ${parts.length}.*about 10 min`));
    for (const p of parts) assert.ok(/<transcript>\n([^]*)\n<\/transcript>/.exec(p)![1]!.length <= 3_000);
    // Every sentence went to the model once, whole.
    const sent = parts.map((p) => /<transcript>\n([^]*)\n<\/transcript>/.exec(p)![1]!).join(' ');
    assert.equal(sent, sentences.join(' '));
    assert.equal(doc.title, 'Sentence number 1 talks about the garden and the weather.');
    assert.equal(doc.key_points.length, Math.min(50, parts.length * 3));
    assert.ok(validateNotesDocument(doc).ok);
  });

  it('passes an outage through as llm_unavailable, without asking again', async () => {
    server.script(reply.hang());
    const err = await failure(writeNotes(llm(300), transcript, { template: 'diary' }));
    assert.equal(err.code, 'llm_unavailable');
    assert.equal(err.retryable, true);
    assert.equal(server.requests.length, 1);
  });

  it('passes the abort signal through', async () => {
    server.script(reply.hang());
    const controller = new AbortController();
    const pending = writeNotes(llm(), transcript, { template: 'diary', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    assert.equal((await failure(pending)).name, 'AbortError');
  });

  it('falls back to json_object and still writes valid notes', async () => {
    server.script(reply.unsupportedSchema());
    const doc = await writeNotes(llm(), transcript, { template: 'diary' });
    assert.equal(doc.title, 'I walked in the park today.');
    assert.deepEqual(
      server.requests.map((r) => r.body.response_format.type),
      ['json_schema', 'json_object'],
    );
  });

  it('writes notes of a real Spanish transcript in Spanish, end to end', { skip: !hasSpeech && 'the shared speech set (../shared/speech) is missing' }, async () => {
    const es = readManifest('manifest-long.tsv').find((e) => e.language === 'es')!;
    const doc = await writeNotes(llm(), { text: es.reference, language: 'es' }, { template: 'diary', maxCharsPerPart: 600 });
    assert.equal(doc.language, 'es');
    assert.match(server.requests[0]!.body.messages[0].content, /Spanish \(ISO 639-1 code "es"\)/);
    assert.ok(server.requests.length > 2);
    assert.ok(validateNotesDocument(doc).ok);
    assert.match(renderNotesMarkdown(doc), /^# se recomienda/);
  });
});
