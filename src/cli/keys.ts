import { generateApiKey } from '../core/api-keys.js';
import { EarshotError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { createPinoLogger } from '../adapters/logger/pino/pino-logger.js';
import { createStore } from '../app.js';
import { DB_SETTINGS, type Command } from './command.js';

export const keysCommand: Command = {
  name: 'keys',
  summary: 'Manages API keys. A key belongs to a tenant; everything created with it is visible only to that tenant. Only a hash of the key is stored: it is printed once, at creation.',
  usage: 'earshot keys create --tenant NAME [--name LABEL] | keys list [--tenant NAME] | keys revoke KEY_ID',
  settings: DB_SETTINGS,
  options: { tenant: { type: 'string' }, name: { type: 'string' } },
  optionsHelp: '  --tenant NAME   the tenant that owns the key (created if new)\n  --name LABEL    a label to tell keys apart',
  async run(ctx) {
    const [action, arg] = ctx.args;
    const config = ctx.config();
    const store = createStore(config, createPinoLogger({ level: config.logLevel }));
    try {
      await store.migrate();
      const now = Date.now();
      if (action === 'create') {
        const tenant = ctx.values.tenant;
        if (typeof tenant !== 'string' || !/^[a-z0-9_-]{1,64}$/i.test(tenant)) {
          throw new EarshotError('bad_request', '--tenant NAME is required (letters, digits, - and _)');
        }
        await store.createTenant({ id: tenant, name: tenant, createdAt: now });
        const { key, prefix, hash } = generateApiKey();
        const id = newId('key');
        await store.createApiKey({ id, tenantId: tenant, name: typeof ctx.values.name === 'string' ? ctx.values.name : '', prefix, createdAt: now, revokedAt: null }, hash);
        ctx.out.write(`${key}\n`);
        ctx.err.write(`created key ${id} for tenant "${tenant}"; it is shown only this once\n`);
      } else if (action === 'list') {
        const keys = await store.listApiKeys(typeof ctx.values.tenant === 'string' ? ctx.values.tenant : undefined);
        for (const k of keys) {
          ctx.out.write(`${k.id}\t${k.tenantId}\t${k.prefix}…\t${k.name}\t${new Date(k.createdAt).toISOString()}\t${k.revokedAt ? 'revoked' : 'active'}\n`);
        }
      } else if (action === 'revoke' && arg) {
        if (!(await store.revokeApiKey(arg, now))) throw new EarshotError('not_found', `no active key ${arg}`);
        ctx.out.write(`revoked ${arg}\n`);
      } else {
        throw new EarshotError('bad_request', `usage: ${keysCommand.usage}`);
      }
    } finally {
      await store.close();
    }
  },
};
