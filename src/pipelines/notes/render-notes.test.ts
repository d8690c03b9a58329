import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyNotesDocument, type NotesDocument } from './notes-schema.js';
import { renderNotesMarkdown } from './render-notes.js';

const doc: NotesDocument = {
  title: 'Planning\nthe week',
  summary: 'I planned the week and booked the dentist.',
  key_points: ['The dentist is on Tuesday.', 'The report is\nlate.'],
  action_items: [
    { text: 'Call the dentist', owner: 'Ana', due: '2025-03-04' },
    { text: 'Buy milk', owner: null, due: null },
  ],
  people: ['Ana'],
  places: [],
  dates: [
    { text: 'next Tuesday', date: '2025-03-04' },
    { text: 'in March', date: null },
  ],
  tags: ['planning', '#health', 'to do'],
  mood: 'calm',
  language: 'en',
  source: 'llm',
  template: 'diary',
  model: 'gpt-4o-mini',
};

describe('renderNotesMarkdown', () => {
  it('renders every filled section and leaves out the empty ones', () => {
    assert.equal(
      renderNotesMarkdown(doc),
      [
        '# Planning the week',
        '',
        'I planned the week and booked the dentist.',
        '',
        '## Key points',
        '',
        '- The dentist is on Tuesday.',
        '- The report is late.',
        '',
        '## Action items',
        '',
        '- [ ] Call the dentist (Ana, 2025-03-04)',
        '- [ ] Buy milk',
        '',
        '## People',
        '',
        '- Ana',
        '',
        '## Dates',
        '',
        '- next Tuesday (2025-03-04)',
        '- in March',
        '',
        'Tags: #planning #health #to-do',
        '',
        'Mood: calm',
        '',
      ].join('\n'),
    );
  });

  it('says when the notes are extractive', () => {
    const md = renderNotesMarkdown({ ...emptyNotesDocument('en', 'diary') });
    assert.equal(md.split('\n')[0], '# Empty recording');
    assert.doesNotMatch(md, /## /);
    assert.match(md, /Extractive notes/);
    assert.doesNotMatch(renderNotesMarkdown(doc), /Extractive/);
  });
});
