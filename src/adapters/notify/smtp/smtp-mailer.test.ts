import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarshotError } from '../../../core/errors.js';
import { parseSmtpUrl } from './smtp-mailer.js';

describe('parseSmtpUrl', () => {
  it('reads smtp (STARTTLS, 587) and smtps (implicit TLS, 465) with their default ports', () => {
    assert.deepEqual(parseSmtpUrl('smtp://u:p@mail.example.com'), {
      host: 'mail.example.com',
      port: 587,
      secure: false,
      auth: { user: 'u', pass: 'p' },
      rejectUnauthorized: true,
    });
    assert.deepEqual(parseSmtpUrl('smtps://mail.example.com'), { host: 'mail.example.com', port: 465, secure: true, auth: undefined, rejectUnauthorized: true });
    assert.equal(parseSmtpUrl('smtp://mail.example.com:25').port, 25);
    assert.equal(parseSmtpUrl('smtps://[::1]:2465').host, '::1');
  });

  it('percent-decodes user and password', () => {
    assert.deepEqual(parseSmtpUrl('smtp://me%40example.com:p%40ss%3Aw%2Frd%20x@mail.example.com').auth, { user: 'me@example.com', pass: 'p@ss:w/rd x' });
    assert.deepEqual(parseSmtpUrl('smtp://apikey:@mail.example.com').auth, { user: 'apikey', pass: '' });
  });

  it('reads tls_reject_unauthorized and refuses other parameters, without echoing the URL', () => {
    assert.equal(parseSmtpUrl('smtps://u:p@lab.local?tls_reject_unauthorized=false').rejectUnauthorized, false);
    assert.equal(parseSmtpUrl('smtps://u:p@lab.local?tls_reject_unauthorized=true').rejectUnauthorized, true);
    for (const bad of ['smtps://u:hunter22@lab.local?tls_reject_unauthorized=no', 'smtp://u:hunter22@lab.local?pool=true', 'smtp://u:hunter22@lab.local/x', 'imap://u:hunter22@h', 'smtp://u:%E0%A4%A@h']) {
      assert.throws(
        () => parseSmtpUrl(bad),
        (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config' && !err.message.includes('hunter22'),
        bad,
      );
    }
  });
});
