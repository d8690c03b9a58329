/**
 * Notes as Markdown, for people and for note apps (Obsidian, Logseq read `#tag` and `- [ ]`). Empty
 * sections are left out; list items are kept on one line each, whatever the model wrote.
 */
import type { NotesDocument } from './notes-schema.js';

const line = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
const bullets = (items: string[]) => items.map(line).filter((t) => t !== '').map((t) => `- ${t}`);
// A tag is one word in note apps: `#action items` would tag only "action".
const tag = (t: string) => `#${line(t).replace(/^#+/, '').replace(/\s+/g, '-')}`;

/** The Markdown text of `doc`, ending with a newline. */
export function renderNotesMarkdown(doc: NotesDocument): string {
  const out: string[] = [`# ${line(doc.title) || 'Notes'}`];
  const section = (heading: string, lines: string[]) => {
    if (lines.length > 0) out.push('', `## ${heading}`, '', ...lines);
  };
  if (doc.summary.trim() !== '') out.push('', doc.summary.trim());
  section('Key points', bullets(doc.key_points));
  section(
    'Action items',
    doc.action_items
      .filter((a) => line(a.text) !== '')
      .map((a) => {
        const extra = [a.owner, a.due].filter((x): x is string => x !== null && line(x) !== '').map(line);
        return `- [ ] ${line(a.text)}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
      }),
  );
  section('People', bullets(doc.people));
  section('Places', bullets(doc.places));
  section(
    'Dates',
    doc.dates.filter((d) => line(d.text) !== '').map((d) => `- ${line(d.text)}${d.date !== null && d.date !== line(d.text) ? ` (${d.date})` : ''}`),
  );
  const tags = doc.tags.filter((t) => line(t).replace(/^#+/, '') !== '').map(tag);
  if (tags.length > 0) out.push('', `Tags: ${tags.join(' ')}`);
  if (doc.mood !== null && line(doc.mood) !== '') out.push('', `Mood: ${line(doc.mood)}`);
  if (doc.source === 'extractive') out.push('', '---', '', '*Extractive notes: sentences and keywords picked from the transcript, without a language model.*');
  return out.join('\n') + '\n';
}
