import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, settings } from './config.js';

describe('config', () => {
  it('runs embedded on 127.0.0.1:8080 with ./data and no auth when nothing is set', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, resolve('data'));
    assert.deepEqual(c.database, { kind: 'sqlite', path: resolve('data', 'earshot.db') });
    assert.equal(c.storage.kind, 'disk');
    assert.equal(c.authRequired, false);
    assert.equal(c.publicUrl, 'http://127.0.0.1:8080');
  });

  it('takes flags over environment variables', () => {
    const c = loadConfig({ port: '9000', 'data-dir': '/srv/e' }, { EARSHOT_PORT: '7000', EARSHOT_HOST: '127.0.0.2' });
    assert.equal(c.port, 9000);
    assert.equal(c.host, '127.0.0.2');
    assert.equal(c.dataDir, '/srv/e');
  });

  it('switches to PostgreSQL and S3 by configuration only', () => {
    const c = loadConfig({}, { EARSHOT_DATABASE_URL: 'postgres://u:p@db:5432/e', EARSHOT_STORAGE: 's3://bucket/some/prefix', EARSHOT_S3_ENDPOINT: 'http://minio:9000' });
    assert.deepEqual(c.database, { kind: 'postgres', url: 'postgres://u:p@db:5432/e' });
    assert.equal(c.storage.kind, 's3');
    if (c.storage.kind === 's3') {
      assert.equal(c.storage.bucket, 'bucket');
      assert.equal(c.storage.prefix, 'some/prefix');
      assert.equal(c.storage.forcePathStyle, true);
    }
  });

  it('requires API keys off loopback and refuses auth=off there', () => {
    assert.equal(loadConfig({ host: '0.0.0.0' }, {}).authRequired, true);
    assert.equal(loadConfig({ host: '127.0.0.1', auth: 'on' }, {}).authRequired, true);
    assert.throws(() => loadConfig({ host: '0.0.0.0', auth: 'off' }, {}), { code: 'invalid_config' });
  });

  it('names every bad value in one error', () => {
    assert.throws(
      () => loadConfig({}, { EARSHOT_PORT: 'eighty', EARSHOT_LEASE_MS: '10', EARSHOT_STORAGE: 'ftp://x', EARSHOT_WORKERS: 'maybe' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid_config');
        for (const name of ['EARSHOT_PORT', 'EARSHOT_LEASE_MS', 'EARSHOT_STORAGE', 'EARSHOT_WORKERS']) assert.match(err.message, new RegExp(name));
        return true;
      },
    );
  });

  it('is documented: every setting appears in docs/OPERATIONS.md', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../docs/OPERATIONS.md'), 'utf8');
    for (const s of Object.values(settings)) {
      assert.ok(doc.includes(`\`${s.env}\``), `${s.env} is missing from docs/OPERATIONS.md`);
      assert.ok(doc.includes(`\`--${s.flag}\``), `--${s.flag} is missing from docs/OPERATIONS.md`);
    }
  });
});
