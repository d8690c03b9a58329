import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signWebhook, verifyWebhookSignature } from './webhook-signature.js';

const secret = 'whsec_test_0123456789';
const body = '{"type":"job.succeeded","job":{"id":"job_1","status":"succeeded"}}';
const t = 1_700_000_000;
const now = { nowSeconds: t + 10 };

/** Computed here, independently of the module, from the documented scheme. */
const expectedV1 = (s: string, ts: number, raw: string) => createHmac('sha256', s).update(`${ts}.${raw}`).digest('hex');

describe('webhook signature', () => {
  it('signs as t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    assert.equal(signWebhook(secret, t, body), `t=${t},v1=${expectedV1(secret, t, body)}`);
    // A fixed vector, so a change of scheme cannot pass by changing both sides.
    assert.equal(signWebhook('secret', 1, 'x'), `t=1,v1=${createHmac('sha256', 'secret').update('1.x').digest('hex')}`);
  });

  it('signs with each of several secrets, newest first, for a rotation', () => {
    const header = signWebhook(['whsec_new', 'whsec_old'], t, body);
    assert.equal(header, `t=${t},v1=${expectedV1('whsec_new', t, body)},v1=${expectedV1('whsec_old', t, body)}`);
    assert.equal(verifyWebhookSignature(header, 'whsec_old', body, now), true);
    assert.equal(verifyWebhookSignature(header, 'whsec_new', body, now), true);
    assert.equal(verifyWebhookSignature(header, 'whsec_other', body, now), false);
    assert.throws(() => signWebhook([], t, body), RangeError);
  });

  it('verifies its own signature', () => {
    assert.equal(verifyWebhookSignature(signWebhook(secret, t, body), secret, body, now), true);
  });

  it('refuses a tampered body, a wrong secret and a changed timestamp', () => {
    const header = signWebhook(secret, t, body);
    assert.equal(verifyWebhookSignature(header, secret, body.replace('succeeded"}}', 'failed"}}'), now), false);
    assert.equal(verifyWebhookSignature(header, secret, `${body} `, now), false);
    assert.equal(verifyWebhookSignature(header, 'another-secret', body, now), false);
    assert.equal(verifyWebhookSignature(header.replace(`t=${t}`, `t=${t + 1}`), secret, body, now), false);
  });

  it('refuses stale and far-future timestamps, within the tolerance either way', () => {
    const header = signWebhook(secret, t, body);
    assert.equal(verifyWebhookSignature(header, secret, body, { nowSeconds: t + 300 }), true);
    assert.equal(verifyWebhookSignature(header, secret, body, { nowSeconds: t + 301 }), false);
    assert.equal(verifyWebhookSignature(header, secret, body, { nowSeconds: t - 301 }), false);
    assert.equal(verifyWebhookSignature(header, secret, body, { nowSeconds: t + 3600, toleranceSeconds: 3600 }), true);
  });

  it('accepts any of several v1 entries and any of several secrets (rotation)', () => {
    const oldSig = expectedV1('old-secret', t, body);
    const newSig = expectedV1(secret, t, body);
    const header = `t=${t},v1=${oldSig},v1=${newSig}`;
    assert.equal(verifyWebhookSignature(header, secret, body, now), true);
    assert.equal(verifyWebhookSignature(header, 'old-secret', body, now), true);
    assert.equal(verifyWebhookSignature(`t=${t},v1=${'0'.repeat(64)}`, ['old-secret', secret], body, now), false);
    assert.equal(verifyWebhookSignature(`t=${t},v1=${oldSig}`, ['nope', 'old-secret'], body, now), true);
    assert.equal(verifyWebhookSignature(`t=${t}, v0=abc, v1=${newSig.toUpperCase()}`, secret, body, now), true);
  });

  it('is false, not an exception, for malformed headers and empty secrets', () => {
    const sig = expectedV1(secret, t, body);
    for (const header of [undefined, '', 'garbage', `v1=${sig}`, `t=${t}`, `t=abc,v1=${sig}`, `t=${t},v1=${sig.slice(2)}`, `t=${t},t=${t},v1=${sig}`, `t=-5,v1=${sig}`]) {
      assert.equal(verifyWebhookSignature(header, secret, body, now), false, String(header));
    }
    assert.equal(verifyWebhookSignature(`t=${t},v1=${expectedV1('', t, body)}`, ['', ''], body, now), false);
    assert.throws(() => signWebhook('', t, body), RangeError);
    assert.throws(() => signWebhook(secret, 1.5, body), RangeError);
  });
});
