import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EarshotError } from '../../core/errors.js';
import type { ChatJsonRequest, Llm } from '../../ports/llm.js';
import { validateNotesDocument, type Notes } from './notes-schema.js';
import { isNoteTemplate, noteTemplates, notesSystemPrompt } from './templates.js';
import { parseNotes, splitTranscript, writeNotes } from './write-notes.js';

const notes = (title: string): Notes => ({
  title,
  summary: `Summary of ${title}.`,
  key_points: [title],
  action_items: [],
  people: [],
  places: [],
  dates: [],
  tags: ['t'],
  mood: null,
  language: 'en',
});

/** An Llm that answers with `answer(request, callNumber)` and records the requests. */
function fakeLlm(answer: (request: ChatJsonRequest, n: number) => string): Llm & { requests: ChatJsonRequest[] } {
  const requests: ChatJsonRequest[] = [];
  return {
    name: 'fake',
    model: 'fake-1',
    requests,
    async chatJson(request) {
      requests.push(request);
      return { content: answer(request, requests.length), model: 'fake-1' };
    },
  };
}

const lastUser = (r: ChatJsonRequest) => r.messages.at(-1)!.content;

describe('writeNotes', () => {
  it('writes an empty-but-valid document for an empty transcript, without the model', async () => {
    const llm = fakeLlm(() => assert.fail('no call expected'));
    const doc = await writeNotes(llm, { text: '  \n ', language: 'es' }, { template: 'diary' });
    assert.equal(doc.title, 'Empty recording');
    assert.equal(doc.language, 'es');
    assert.equal(doc.model, null);
    assert.ok(validateNotesDocument(doc).ok);
  });

  it('refuses an unknown template and a tiny part size', async () => {
    const llm = fakeLlm(() => JSON.stringify(notes('x')));
    await assert.rejects(writeNotes(llm, { text: 'hi', language: 'en' }, { template: 'poem' }), { code: 'bad_request' });
    await assert.rejects(writeNotes(llm, { text: 'hi', language: 'en' }, { template: 'diary', maxCharsPerPart: 10 }), { code: 'bad_request' });
    assert.equal(llm.requests.length, 0);
  });

  it('sends the schema and the signal on every call', async () => {
    const signal = new AbortController().signal;
    const llm = fakeLlm(() => JSON.stringify(notes('x')));
    await writeNotes(llm, { text: 'Hello there.', language: 'en' }, { template: 'meeting', signal });
    assert.equal(llm.requests[0]!.signal, signal);
    assert.equal(llm.requests[0]!.schema.name, 'notes');
    assert.match(llm.requests[0]!.messages[0]!.content, /meeting notes/);
  });

  it('retries once with the errors, then gives up', async () => {
    const llm = fakeLlm((_r, n) => (n === 1 ? '```json\n{"title": 1}\n```' : 'sorry, I cannot'));
    await assert.rejects(writeNotes(llm, { text: 'Hello.', language: 'en' }, { template: 'diary' }), (err: EarshotError) => {
      assert.equal(err.code, 'notes_invalid');
      assert.deepEqual(err.details?.errors, ['/: the answer holds no JSON object']);
      assert.ok((err.details?.first_errors as string[]).includes('/title: must be string'));
      return true;
    });
    assert.equal(llm.requests.length, 2);
    assert.match(lastUser(llm.requests[1]!), /- \/title: must be string/);
  });

  it('merges parts in rounds when the partial notes do not fit one call', async () => {
    const text = Array.from({ length: 12 }, (_, i) => `Part sentence ${i} ${'word '.repeat(15).trim()}.`).join(' ');
    let merges = 0;
    const llm = fakeLlm((r) => {
      const user = lastUser(r);
      if (user.includes('<partial_notes>')) return JSON.stringify(notes(`merge ${++merges}`));
      return JSON.stringify(notes(`part ${'x'.repeat(60)}`));
    });
    const doc = await writeNotes(llm, { text, language: 'en' }, { template: 'lecture', maxCharsPerPart: 200 });
    const partCalls = llm.requests.filter((r) => lastUser(r).includes('<transcript>')).length;
    assert.equal(partCalls, splitTranscript(text, 200).length);
    assert.equal(partCalls, 6);
    // Each partial is larger than 200 characters, so each merge takes two: 6 -> 3 -> 2 -> 1.
    assert.equal(merges, 3 + 1 + 1);
    assert.equal(doc.title, `merge ${merges}`, 'the last merge is the document');
  });
});

describe('splitTranscript', () => {
  it('cuts after sentences, else at spaces, never above the limit, losing nothing', () => {
    const text = 'One two three. Four five six seven! Eight nine ten eleven twelve? Thirteen fourteen.';
    const parts = splitTranscript(text, 40);
    assert.deepEqual(parts, ['One two three. Four five six seven!', 'Eight nine ten eleven twelve?', 'Thirteen fourteen.']);
    const words = 'lorem ipsum dolor sit amet consectetur '.repeat(20).trim();
    const pieces = splitTranscript(words, 50);
    assert.ok(pieces.every((p) => p.length <= 50 && !p.startsWith(' ')));
    assert.equal(pieces.join(' '), words);
    assert.deepEqual(splitTranscript('x'.repeat(25), 10), ['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    assert.deepEqual(splitTranscript('short', 100), ['short']);
  });
});

describe('parseNotes', () => {
  it('reads JSON wrapped in code fences, think blocks or prose', () => {
    const n = notes('Wrapped');
    assert.deepEqual(parseNotes(`<think>{"a": 1}</think>Here you go:\n\`\`\`json\n${JSON.stringify(n)}\n\`\`\``), { ok: true, notes: n });
    const bad = parseNotes('{"title": "x",');
    assert.ok(!bad.ok && /not valid JSON/.test(bad.errors[0]!));
  });
});

describe('templates', () => {
  it('has diary, meeting and lecture, each telling the language', () => {
    assert.deepEqual([...noteTemplates], ['diary', 'meeting', 'lecture']);
    assert.ok(isNoteTemplate('diary') && !isNoteTemplate('toString'));
    for (const t of noteTemplates) {
      const prompt = notesSystemPrompt(t, 'es');
      assert.match(prompt, /Spanish \(ISO 639-1 code "es"\)/);
      assert.match(prompt, /Do not invent/);
    }
    assert.match(notesSystemPrompt('diary', 'und'), /language of the transcript/);
    assert.match(notesSystemPrompt('diary', 'en', '2025-02-20'), /2025-02-20/);
  });
});
