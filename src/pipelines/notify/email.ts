/**
 * The notification e-mail: what finished or why it failed, with a temporary download link for each
 * result. Plain text first (it is what most people read in a notification), HTML alongside.
 */
import type { EmailMessage } from '../../ports/notifier.js';
import type { JobEvent } from './events.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`);
const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function utc(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** The e-mail for an outcome event; `links` are download URLs by result name, signed when sent. */
export function outcomeEmail(to: string, event: JobEvent, links: Record<string, { url: string; expiresAt: number }>, headers: Record<string, string>): EmailMessage {
  const { job } = event.data;
  const what = `${job.kind} of "${job.title}"`;
  const lines: string[] = [];
  const html: string[] = [];
  let subject: string;
  if (job.status === 'succeeded') {
    subject = `${capitalise(job.kind)} ready: ${job.title}`;
    lines.push(`Your ${what} is ready.`, '');
    html.push(`<p>Your ${escapeHtml(what)} is ready.</p>`);
    const entries = Object.entries(links);
    if (entries.length > 0) {
      const until = utc(new Date(Math.min(...entries.map(([, l]) => l.expiresAt))).toISOString());
      lines.push(`Download (the links work until ${until}):`);
      html.push(`<p>Download (the links work until ${escapeHtml(until)}):</p><ul>`);
      for (const [name, link] of entries) {
        lines.push(`  ${name}: ${link.url}`);
        html.push(`<li><a href="${escapeHtml(link.url)}">${escapeHtml(name)}</a></li>`);
      }
      html.push('</ul>');
      lines.push('');
    }
    // Damaged media was transcribed as far as it could be read: the reader must not take it for the whole.
    const warnings = job.warnings ?? [];
    if (warnings.length > 0) {
      lines.push('Warnings:', ...warnings.map((w) => `  ${w.code}: ${w.message}`), '');
      html.push('<p>Warnings:</p><ul>', ...warnings.map((w) => `<li>${escapeHtml(w.code)}: ${escapeHtml(w.message)}</li>`), '</ul>');
    }
  } else {
    subject = `${capitalise(job.kind)} failed: ${job.title}`;
    const reason = job.error ? `${job.error.message} (${job.error.code})` : 'an unknown error';
    lines.push(`Your ${what} failed: ${reason}.`, '', `Once the cause is fixed it can be run again from where it stopped: POST ${job.url}/retry`, '');
    html.push(`<p>Your ${escapeHtml(what)} failed: ${escapeHtml(reason)}.</p>`, `<p>Once the cause is fixed it can be run again from where it stopped: <code>POST ${escapeHtml(job.url)}/retry</code></p>`);
  }
  lines.push(`Job ${job.id}: ${job.url}`);
  html.push(`<p style="color:#666">Job <a href="${escapeHtml(job.url)}">${escapeHtml(job.id)}</a></p>`);
  return { to, subject, text: `${lines.join('\n')}\n`, html: html.join('\n'), headers };
}
