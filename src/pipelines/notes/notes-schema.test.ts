import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyNotesDocument, notesDocumentJsonSchema, notesJsonSchema, notesLanguage, validateNotes, validateNotesDocument, type Notes } from './notes-schema.js';

const valid: Notes = {
  title: 'Planning the week',
  summary: 'I planned the week.',
  key_points: ['Dentist on Tuesday.'],
  action_items: [{ text: 'Call the dentist', owner: null, due: '2025-03-04' }],
  people: [],
  places: ['Madrid'],
  dates: [{ text: 'Tuesday', date: null }, { text: 'in 1811', date: '1811' }],
  tags: ['planning'],
  mood: null,
  language: 'en',
};

interface SchemaNode {
  type?: unknown;
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: unknown;
}

/** Every object of the schema, with its path. */
function objects(schema: SchemaNode | undefined, path = '#'): [string, SchemaNode][] {
  if (schema?.type === 'array') return objects(schema.items, `${path}/items`);
  if (schema?.type !== 'object') return [];
  return [[path, schema], ...Object.entries(schema.properties ?? {}).flatMap(([k, v]) => objects(v, `${path}/${k}`))];
}

describe('notes schema', () => {
  it('follows the rules of strict structured outputs', () => {
    for (const schema of [notesJsonSchema, notesDocumentJsonSchema]) {
      const found = objects(schema);
      assert.ok(found.length >= 3);
      for (const [path, o] of found) {
        assert.equal(o.additionalProperties, false, path);
        assert.deepEqual([...(o.required ?? [])].sort(), Object.keys(o.properties ?? {}).sort(), path);
      }
    }
    // Bounds are checked after the fact, not sent: not every server accepts them.
    assert.doesNotMatch(JSON.stringify(notesJsonSchema), /"(maxLength|maxItems|minItems|pattern|format)":/);
  });

  it('accepts valid notes', () => {
    assert.deepEqual(validateNotes(valid), { ok: true, notes: valid });
  });

  it('explains wrong types, missing and extra properties with their paths', () => {
    const result = validateNotes({ ...valid, key_points: ['a', 'b', 3], mood: undefined, extra: 1, action_items: [{ text: 'x', owner: 5 }] });
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.ok(result.errors.includes('/key_points/2: must be string'), result.errors.join('\n'));
    assert.ok(result.errors.includes("/: must have required property 'mood'"), result.errors.join('\n'));
    assert.ok(result.errors.includes('/: must NOT have additional properties (extra)'), result.errors.join('\n'));
    assert.ok(result.errors.includes('/action_items/0/owner: must be string,null'), result.errors.join('\n'));
    assert.ok(result.errors.includes("/action_items/0: must have required property 'due'"), result.errors.join('\n'));
    assert.deepEqual(validateNotes('{}'), { ok: false, errors: ['/: must be object'] });
  });

  it('enforces the bounds the schema does not send', () => {
    const result = validateNotes({
      ...valid,
      title: 'x'.repeat(201),
      tags: Array.from({ length: 51 }, (_, i) => `t${i}`),
      language: 'English',
      dates: [{ text: 'next Tuesday', date: 'next Tuesday' }],
    });
    assert.ok(!result.ok);
    assert.deepEqual(result.errors, [
      '/title: must NOT have more than 200 characters',
      '/tags: must NOT have more than 50 items',
      '/language: must be an ISO 639-1 code such as "en"',
      '/dates/0/date: must be an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY) or null',
    ]);
    assert.ok(validateNotes({ ...valid, title: 'x'.repeat(200), tags: Array.from({ length: 50 }, () => 't') }).ok);
    assert.deepEqual(validateNotes({ ...valid, title: ' ' }), { ok: false, errors: ['/title: must not be empty'] });
  });

  it('validates stored documents with their source', () => {
    assert.ok(validateNotesDocument({ ...valid, source: 'llm', template: 'diary', model: 'gpt-4o-mini' }).ok);
    assert.ok(!validateNotesDocument({ ...valid, source: 'magic', template: 'diary', model: null }).ok);
    assert.ok(!validateNotesDocument(valid).ok);
    assert.ok(validateNotesDocument(emptyNotesDocument('es-ES', 'diary')).ok);
  });

  it('normalises language codes', () => {
    assert.equal(notesLanguage('en-US'), 'en');
    assert.equal(notesLanguage('ES'), 'es');
    assert.equal(notesLanguage('auto'), 'und');
    assert.equal(notesLanguage('spanish'), 'und');
  });
});
