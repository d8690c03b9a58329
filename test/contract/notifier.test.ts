/**
 * The Notifier contract: the SMTP mailer against a real SMTP server (smtp-server, parsed back with
 * mailparser), and the HTTP webhook sender against a real node:http receiver on 127.0.0.1, including
 * every way a webhook must be refused before a byte leaves.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createSmtpMailer } from '../../src/adapters/notify/smtp/smtp-mailer.js';
import { createHttpWebhookSender } from '../../src/adapters/notify/webhook/http-webhook-sender.js';
import { EarshotError } from '../../src/core/errors.js';
import { signWebhook, verifyWebhookSignature } from '../../src/core/webhook-signature.js';
import type { Mailer } from '../../src/ports/notifier.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';
import { startWebhookReceiver, type ReceiverReply, type WebhookReceiver } from '../support/webhook-receiver.js';

const FROM = 'Earshot <earshot@localhost>';
const USER = 'earshot';
const PASS = 'p@ss:w/rd s3cret';

/** An EarshotError with this code and retryable flag (and, when given, these details). */
const earshotError = (code: string, isRetryable: boolean, details: Record<string, unknown> = {}) => (err: unknown) => {
  assert.ok(err instanceof EarshotError, `expected an EarshotError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.retryable, isRetryable, `${err.code}: ${err.message}`);
  for (const [k, v] of Object.entries(details)) assert.deepEqual(err.details?.[k], v, `details.${k}`);
  return true;
};

/** A port that nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const mailers: Mailer[] = [];
const mailer = (url: string, timeoutMs = 5_000) => {
  const m = createSmtpMailer({ url, from: FROM, timeoutMs });
  mailers.push(m);
  return m;
};

describe('SMTP mailer', () => {
  let server: TestSmtpServer;
  let url: string;
  before(async () => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASS }, rejectRecipients: ['nobody@example.com'] });
    url = server.url;
  });
  after(async () => {
    for (const m of mailers) await m.close();
    await server.close();
  });

  it('delivers subject, text, html and custom headers, and returns a receipt', async () => {
    const seen = server.messages.length;
    const receipt = await mailer(url).send({
      to: 'alice@example.com',
      subject: 'Your transcript is ready — “interview.mp3”',
      text: 'Hello Alice,\n\nYour transcript is ready.\n',
      html: '<p>Hello Alice,</p><p>Your transcript is <b>ready</b>.</p>',
      headers: { 'Message-ID': '<job_1.notify@earshot.local>', 'X-Earshot-Job': 'job_1', 'Auto-Submitted': 'auto-generated' },
    });
    assert.deepEqual(receipt, { messageId: '<job_1.notify@earshot.local>', accepted: ['alice@example.com'], rejected: [] });
    const [msg] = (await server.waitForMessages(seen + 1)).slice(seen);
    assert.ok(msg);
    assert.equal(msg.headers.from, FROM);
    assert.deepEqual(msg.to, ['alice@example.com']);
    assert.equal(msg.mailFrom, 'earshot@localhost');
    assert.equal(msg.subject, 'Your transcript is ready — “interview.mp3”');
    assert.equal(msg.text.trimEnd(), 'Hello Alice,\n\nYour transcript is ready.');
    assert.equal(msg.html, '<p>Hello Alice,</p><p>Your transcript is <b>ready</b>.</p>');
    assert.equal(msg.messageId, '<job_1.notify@earshot.local>');
    assert.equal(msg.headers['x-earshot-job'], 'job_1');
    assert.equal(msg.headers['auto-submitted'], 'auto-generated');
    assert.equal(msg.raw.match(/^message-id:/gim)?.length, 1, 'exactly one Message-ID header');
  });

  it('keeps long URLs intact through quoted-printable line breaks', async () => {
    const link = `https://earshot.example.com/v1/blobs/tenants/t_1/jobs/job_01HZY3Q4W8/transcript.srt?op=get&expires=1900000000&name=${'very-long-file-name-'.repeat(6)}.srt&sig=${'0123456789abcdef'.repeat(4)}`;
    assert.ok(link.length > 300);
    const text = `Download: ${link}\nAgain, with ünïcödé around it: «${link}»\n`;
    const html = `<p>Download: <a href="${link.replace(/&/g, '&amp;')}">${link.replace(/&/g, '&amp;')}</a> — ünïcödé</p>`;
    const seen = server.messages.length;
    await mailer(url).send({ to: 'bob@example.com', subject: 'Links', text, html });
    const [msg] = (await server.waitForMessages(seen + 1)).slice(seen);
    assert.ok(msg);
    assert.equal(msg.text, text);
    assert.equal(msg.html, html);
    // Every line on the wire stays within SMTP's limit, so the link was wrapped, not sent as one line.
    assert.ok(msg.raw.split('\r\n').every((line) => line.length <= 998));
  });

  it('refuses without credentials when the server requires them: permanent', async () => {
    const noAuth = url.replace(/\/\/[^@]+@/, '//');
    await assert.rejects(mailer(noAuth).send({ to: 'alice@example.com', subject: 's', text: 't' }), earshotError('email_failed', false, { response_code: 530 }));
  });

  it('fails permanently on a wrong password, without the password anywhere in the error', async () => {
    const wrong = 'wr0ng-p@ss!';
    const badUrl = url.replace(encodeURIComponent(PASS), encodeURIComponent(wrong));
    const err = await mailer(badUrl)
      .send({ to: 'alice@example.com', subject: 's', text: 't' })
      .then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
    assert.ok(earshotError('email_failed', false, { response_code: 535 })(err));
    const everything = `${String(err)} ${JSON.stringify((err as EarshotError).toInfo())} ${(err as Error).stack ?? ''} ${String((err as Error).cause ?? '')}`;
    for (const secret of [wrong, encodeURIComponent(wrong), PASS]) assert.ok(!everything.includes(secret), 'the password leaked into the error');
  });

  it('fails permanently when the recipient is refused (550)', async () => {
    await assert.rejects(mailer(url).send({ to: 'nobody@example.com', subject: 's', text: 't' }), earshotError('email_failed', false, { response_code: 550 }));
  });

  it('fails retryably when the server defers (451), and the retry goes through', async () => {
    const flaky = await startSmtpServer({ failFirst: 1 });
    try {
      const m = mailer(flaky.url);
      await assert.rejects(m.send({ to: 'alice@example.com', subject: 'again', text: 't' }), earshotError('email_failed', true, { response_code: 451 }));
      await m.send({ to: 'alice@example.com', subject: 'again', text: 't' });
      assert.equal((await flaky.waitForMessages(1))[0]?.subject, 'again');
    } finally {
      await flaky.close();
    }
  });

  it('fails retryably when the server is down', async () => {
    const port = await closedPort();
    await assert.rejects(
      mailer(`smtp://${USER}:${encodeURIComponent(PASS)}@127.0.0.1:${port}`).send({ to: 'a@example.com', subject: 's', text: 't' }),
      (err: unknown) => earshotError('email_failed', true, { smtp_error: 'ECONNREFUSED' })(err) && !(err as Error).message.includes(PASS),
    );
  });

  it('honours the abort signal: rejects with its reason and closes the connection', async () => {
    // A server that accepts the connection and never greets.
    const sockets: Socket[] = [];
    let closedByClient!: () => void;
    const clientClosed = new Promise<void>((resolve) => (closedByClient = resolve));
    const silent = createNetServer((s) => {
      sockets.push(s);
      s.on('close', closedByClient);
      controller.abort(new Error('job cancelled'));
    });
    const controller = new AbortController();
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      await assert.rejects(mailer(`smtp://127.0.0.1:${port}`).send({ to: 'a@example.com', subject: 's', text: 't' }, { signal: controller.signal }), {
        message: 'job cancelled',
      });
      await clientClosed;
      const pre = AbortSignal.abort(new Error('already'));
      await assert.rejects(mailer(`smtp://127.0.0.1:${port}`).send({ to: 'a@example.com', subject: 's', text: 't' }, { signal: pre }), { message: 'already' });
      assert.equal(sockets.length, 1, 'an already aborted send does not connect');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a bad URL as invalid_config, without the password', () => {
    for (const bad of ['http://u:hunter22@host', 'not a url hunter22', 'smtp://u:hunter22@host/path', 'smtp://u:hunter22@host?tls=no']) {
      assert.throws(
        () => createSmtpMailer({ url: bad, from: FROM }),
        (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config' && !err.message.includes('hunter22'),
        bad,
      );
    }
  });
});

describe('SMTP mailer over TLS (a self-signed server)', () => {
  after(async () => {
    for (const m of mailers) await m.close();
  });

  for (const mode of ['implicit', 'starttls'] as const) {
    it(`${mode}: delivers encrypted with ?tls_reject_unauthorized=false, and refuses the certificate without it`, async () => {
      const server = await startSmtpServer({ tls: mode, auth: { user: USER, pass: PASS } });
      try {
        assert.match(server.url, mode === 'implicit' ? /^smtps:/ : /^smtp:/);
        await mailer(`${server.url}?tls_reject_unauthorized=false`).send({ to: 'alice@example.com', subject: `over ${mode}`, text: 't' });
        const [msg] = await server.waitForMessages(1);
        assert.deepEqual([msg?.subject, msg?.secure], [`over ${mode}`, true]);
        await assert.rejects(mailer(server.url).send({ to: 'alice@example.com', subject: 's', text: 't' }), earshotError('email_failed', false, { reason: 'tls_certificate' }));
        assert.equal(server.messages.length, 1);
      } finally {
        await server.close();
      }
    });
  }
});

describe('HTTP webhook sender', () => {
  let receiver: WebhookReceiver;
  let base: string;
  const big = 'x'.repeat(10_000);
  before(async () => {
    receiver = await startWebhookReceiver((req): ReceiverReply | 'hang' => {
      if (req.path === '/redirect') return { status: 302, headers: { location: '/elsewhere' }, body: 'moved' };
      if (req.path === '/hang') return 'hang';
      if (req.path === '/big') return { status: 200, body: big };
      if (req.path === '/utf8') return { status: 200, body: 'ééé' };
      return { status: 201, body: '{"received":true}', headers: { 'content-type': 'application/json' } };
    });
    base = receiver.url;
  });
  after(async () => {
    await receiver.close();
  });

  const local = createHttpWebhookSender({ allowlist: ['127.0.0.1'], timeoutMs: 2_000 });
  const post = (url: string, extra: Partial<Parameters<typeof local.post>[0]> = {}) =>
    local.post({ url, body: '{"type":"job.succeeded"}', headers: { 'Content-Type': 'application/json' }, ...extra });

  it('POSTs the exact body and headers and returns status, duration and excerpt', async () => {
    const body = JSON.stringify({ type: 'job.succeeded', job: { id: 'job_1', title: 'Ünïcode “quotes”' } });
    const signature = signWebhook('whsec_1', 1_700_000_000, body);
    const seen = receiver.requests.length;
    const res = await local.post({
      url: `${base}/hooks/earshot?tenant=t_1&x=%20y`,
      body,
      headers: { 'Content-Type': 'application/json', 'Earshot-Signature': signature, 'Earshot-Event': 'job.succeeded' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.bodyExcerpt, '{"received":true}');
    assert.ok(res.durationMs >= 0 && res.durationMs < 2_000);
    const [got] = (await receiver.waitForRequests(seen + 1)).slice(seen);
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/hooks/earshot?tenant=t_1&x=%20y');
    assert.equal(got.body, body);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(got.headers['user-agent'], 'Earshot-Webhooks/1');
    assert.equal(got.headers['earshot-event'], 'job.succeeded');
    assert.equal(got.headers['earshot-signature'], signature);
    assert.equal(verifyWebhookSignature(got.headers['earshot-signature'] as string, 'whsec_1', got.body, { nowSeconds: 1_700_000_010 }), true);
  });

  it('lets the caller set the User-Agent', async () => {
    const seen = receiver.requests.length;
    await post(`${base}/ua`, { headers: { 'User-Agent': 'Custom/2', 'Content-Type': 'application/json' } });
    assert.equal((await receiver.waitForRequests(seen + 1))[seen]?.headers['user-agent'], 'Custom/2');
  });

  it('does not follow redirects', async () => {
    const seen = receiver.requests.length;
    const res = await post(`${base}/redirect`);
    assert.equal(res.status, 302);
    assert.equal(res.bodyExcerpt, 'moved');
    assert.deepEqual(
      receiver.requests.slice(seen).map((r) => r.path),
      ['/redirect'],
    );
  });

  it('reads at most maxResponseBytes of the answer, never half a character', async () => {
    const small = createHttpWebhookSender({ allowlist: ['127.0.0.1'], timeoutMs: 2_000, maxResponseBytes: 16 });
    const res = await small.post({ url: `${base}/big`, body: '{}', headers: {} });
    assert.deepEqual([res.status, res.bodyExcerpt], [200, 'x'.repeat(16)]);
    assert.equal((await post(`${base}/big`)).bodyExcerpt, 'x'.repeat(4096));
    const five = createHttpWebhookSender({ allowlist: ['127.0.0.1'], timeoutMs: 2_000, maxResponseBytes: 5 });
    assert.equal((await five.post({ url: `${base}/utf8`, body: '{}', headers: {} })).bodyExcerpt, 'éé');
  });

  it('gives up after timeoutMs on a receiver that never answers: webhook_unreachable, retryable', async () => {
    const quick = createHttpWebhookSender({ allowlist: ['127.0.0.1'], timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(quick.post({ url: `${base}/hang`, body: '{}', headers: {} }), earshotError('webhook_unreachable', true, { reason: 'timeout' }));
    assert.ok(Date.now() - started < 1_500);
  });

  it('reports a refused connection as webhook_unreachable, retryable', async () => {
    const port = await closedPort();
    await assert.rejects(post(`http://127.0.0.1:${port}/`), earshotError('webhook_unreachable', true, { reason: 'ECONNREFUSED' }));
  });

  it('reports a DNS failure as webhook_unreachable, retryable', async () => {
    const sender = createHttpWebhookSender({
      timeoutMs: 2_000,
      resolveHost: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND hooks.invalid'), { code: 'ENOTFOUND' })),
    });
    await assert.rejects(sender.post({ url: 'https://hooks.invalid/x', body: '{}', headers: {} }), earshotError('webhook_unreachable', true, { reason: 'ENOTFOUND' }));
  });

  it('honours the abort signal, during the request and before it', async () => {
    const controller = new AbortController();
    const seen = receiver.requests.length;
    const pending = post(`${base}/hang`, { signal: controller.signal });
    await receiver.waitForRequests(seen + 1);
    controller.abort(new Error('job cancelled'));
    await assert.rejects(pending, { message: 'job cancelled' });
    const connections = receiver.connections();
    await assert.rejects(post(`${base}/x`, { signal: AbortSignal.abort(new Error('already')) }), { message: 'already' });
    assert.equal(receiver.connections(), connections);
  });

  describe('refuses non-public targets before connecting', () => {
    const open = createHttpWebhookSender({ allowlist: [], timeoutMs: 2_000 });
    const refusedTargets = () => [
      [`http://127.0.0.1:${receiver.port}/`, 'loopback'],
      [`http://localhost:${receiver.port}/`, 'loopback'],
      [`http://[::1]:${receiver.port}/`, 'loopback'],
      ['http://10.0.0.1/', 'private'],
      ['http://169.254.169.254/latest/meta-data', 'link-local'],
      [`http://[::ffff:127.0.0.1]:${receiver.port}/`, 'loopback'],
      [`http://[64:ff9b::7f00:1]:${receiver.port}/`, 'loopback'],
      [`http://0.0.0.0:${receiver.port}/`, 'unspecified'],
      [`http://0x7f.1:${receiver.port}/`, 'loopback'],
      [`http://2130706433:${receiver.port}/`, 'loopback'],
      ['http://100.64.0.1/', 'cgnat'],
      ['http://[fd00::1]/', 'private'],
    ] as const;

    it('loopback, private, link-local, mapped and unspecified addresses: webhook_refused, nothing reaches the server', async () => {
      const connections = receiver.connections();
      for (const [url, reason] of refusedTargets()) {
        await assert.rejects(open.post({ url, body: '{}', headers: {} }), earshotError('webhook_refused', false, { reason }), url);
      }
      assert.equal(receiver.connections(), connections, 'a refused webhook must not connect');
    });

    it('other schemes and URLs with credentials', async () => {
      for (const [url, reason] of [
        ['ftp://example.com/hook', 'scheme'],
        ['file:///etc/passwd', 'scheme'],
        ['https://user:pw@example.com/hook', 'credentials'],
        ['not a url', 'invalid_url'],
      ] as const) {
        await assert.rejects(open.post({ url, body: '{}', headers: {} }), earshotError('webhook_refused', false, { reason }), url);
      }
    });

    it('a host name with ANY non-public address, although another is public (DNS rebinding)', async () => {
      const connections = receiver.connections();
      const sender = createHttpWebhookSender({
        timeoutMs: 2_000,
        resolveHost: async () => [
          { address: '93.184.216.34', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ],
      });
      await assert.rejects(
        sender.post({ url: `http://rebind.example:${receiver.port}/`, body: '{}', headers: {} }),
        earshotError('webhook_refused', false, { reason: 'loopback', address: '127.0.0.1' }),
      );
      assert.equal(receiver.connections(), connections);
    });
  });

  describe('check (at submission)', () => {
    it('applies the same rules without sending anything', async () => {
      const connections = receiver.connections();
      const open = createHttpWebhookSender({ timeoutMs: 2_000 });
      for (const [url, reason] of [
        [`http://127.0.0.1:${receiver.port}/`, 'loopback'],
        [`http://localhost:${receiver.port}/`, 'loopback'],
        ['http://169.254.169.254/latest/meta-data', 'link-local'],
        ['ftp://example.com/', 'scheme'],
        ['https://u:p@example.com/', 'credentials'],
      ] as const) {
        await assert.rejects(open.check(url), earshotError('webhook_refused', false, { reason }), url);
      }
      await open.check('https://93.184.216.34/hook');
      await local.check(`${base}/allowed`);
      assert.equal(receiver.connections(), connections, 'check never connects');
    });

    it('refuses a name with a non-public address, and lets an unresolvable name through to be checked when sent', async () => {
      const answers: Record<string, () => Promise<{ address: string; family: number }[]>> = {
        'mixed.example': async () => [
          { address: '2606:4700::1', family: 6 },
          { address: 'fd00::5', family: 6 },
        ],
        'public.example': async () => [{ address: '93.184.216.34', family: 4 }],
        'missing.example': () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })),
        'slow.example': () => new Promise(() => {}),
      };
      const sender = createHttpWebhookSender({ timeoutMs: 200, resolveHost: (h) => answers[h]!() });
      await assert.rejects(sender.check('https://mixed.example/'), earshotError('webhook_refused', false, { reason: 'private', address: 'fd00::5' }));
      await sender.check('https://public.example/');
      await sender.check('https://missing.example/');
      await sender.check('https://slow.example/');
    });
  });

  describe('allow-list', () => {
    it('a host name allow-listed by name is reached, and only by name', async () => {
      const byName = createHttpWebhookSender({ allowlist: ['localhost'], timeoutMs: 2_000 });
      assert.equal((await byName.post({ url: `http://localhost:${receiver.port}/named`, body: '{}', headers: {} })).status, 201);
      await assert.rejects(byName.post({ url: `http://127.0.0.1:${receiver.port}/`, body: '{}', headers: {} }), earshotError('webhook_refused', false));
    });

    it('a CIDR covers IP literals and resolved names', async () => {
      // localhost is 127.0.0.1 and ::1 on a stock Debian: every address of a name must be covered.
      const byCidr = createHttpWebhookSender({ allowlist: ['127.0.0.0/8', '::1/128'], timeoutMs: 2_000 });
      assert.equal((await byCidr.post({ url: `http://127.0.0.1:${receiver.port}/cidr`, body: '{}', headers: {} })).status, 201);
      assert.equal((await byCidr.post({ url: `http://localhost:${receiver.port}/cidr`, body: '{}', headers: {} })).status, 201);
      assert.equal((await byCidr.post({ url: `http://[::ffff:127.0.0.1]:${receiver.port}/cidr`, body: '{}', headers: {} })).status, 201);
      await assert.rejects(byCidr.post({ url: 'http://10.0.0.1/', body: '{}', headers: {} }), earshotError('webhook_refused', false, { reason: 'private' }));
    });

    it('connects to the address it checked, with the URL\'s host name in the Host header', async () => {
      let lookups = 0;
      const sender = createHttpWebhookSender({
        allowlist: ['hooks.internal'],
        timeoutMs: 2_000,
        resolveHost: async () => {
          lookups += 1;
          return [{ address: '127.0.0.1', family: 4 }];
        },
      });
      const seen = receiver.requests.length;
      assert.equal((await sender.post({ url: `http://hooks.internal:${receiver.port}/pinned`, body: '{}', headers: {} })).status, 201);
      const got = (await receiver.waitForRequests(seen + 1))[seen];
      assert.equal(got?.headers.host, `hooks.internal:${receiver.port}`);
      assert.equal(lookups, 1);
    });
  });
});
