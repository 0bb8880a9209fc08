import { API_KEY_SCOPES } from '../../services/context.js';
import type { ApiKeyView } from '../../services/api-keys/api-keys.service.js';
import { DomainError } from '../../services/errors.js';
import { EXIT } from '../cli-errors.js';
import { type Command, str, strs } from '../command.js';
import { shortTime } from '../output.js';

export const apikeyCreate: Command = {
  name: 'apikey create',
  synopsis: '--tenant ID [--scope read|write|token|admin ...] [--expires-at DATE] [--name LABEL]',
  summary:
    'Create an API key (default scope write, which also reads; --scope repeats or takes a list, e.g. token); --expires-at: refused after that (ISO 8601, default never); shown once.',
  options: { tenant: str, scope: strs, 'expires-at': str, name: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const scopes = args.someOf('scope', API_KEY_SCOPES) ?? ['write'];
    const expiresAt = args.instant('expires-at') ?? null;
    const name = args.string('name') ?? null;
    const rt = await runtime();
    await rt.tenant(id);
    const key = await rt.services.tenants.createApiKey(id, scopes, { expiresAt, name });
    out.result({ apiKey: key.key, id: key.id, prefix: key.prefix, scopes: key.scopes, name, expiresAt: expiresAt?.toISOString() ?? null }, () => {
      const expiry = expiresAt ? `, expires ${shortTime(expiresAt)}` : '';
      out.line(`Created API key ${key.prefix} (scopes ${key.scopes.join(', ')}${expiry}; shown once, store it now):`);
      out.line(`  ${key.key}`);
    });
    return EXIT.OK;
  },
};

export const apikeyRevoke: Command = {
  name: 'apikey revoke',
  synopsis: '--tenant ID --key PREFIX_OR_ID',
  summary:
    'Revoke a key by its prefix (as "apikey list" shows it), its id, or the key itself; every gateway instance refuses it within a second (needs Redis).',
  options: { tenant: str, key: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const given = args.required('key');
    // A whole key (wxl_<prefix>_<secret>) pasted by mistake still names its prefix.
    const prefix = /^wxl_([0-9a-f]{8})_/.exec(given)?.[1] ?? given;
    // Redis: the gateways' caches hear of the revocation over pub/sub.
    const rt = await runtime({ redis: true });
    await rt.tenant(id);
    const revoked = await rt.services.tenants.revokeApiKey(id, prefix);
    if (revoked === 0) throw new DomainError('NOT_FOUND', `No active API key "${prefix}" for tenant ${id}.`);
    out.result({ revoked }, () => out.line(`Revoked ${revoked} API key${revoked === 1 ? '' : 's'} (${prefix}).`));
    return EXIT.OK;
  },
};

export const apikeyList: Command = {
  name: 'apikey list',
  synopsis: '--tenant ID',
  summary: "List a tenant's API keys (prefixes only; keys are stored as hashes), with expiry and last use (to the minute).",
  options: { tenant: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const rt = await runtime();
    await rt.tenant(id);
    const keys = await rt.services.tenants.listApiKeys(id);
    out.result({ apiKeys: keys.map(keyJson) }, () =>
      out.table(
        ['ID', 'PREFIX', 'NAME', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
        keys.map((k) => [
          k.id,
          k.prefix,
          k.name ?? '',
          k.scopes.join(','),
          shortTime(k.createdAt),
          shortTime(k.expiresAt),
          shortTime(k.lastUsedAt),
          shortTime(k.revokedAt),
        ]),
      ),
    );
    return EXIT.OK;
  },
};

function keyJson(k: ApiKeyView) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return { ...k, createdAt: k.createdAt.toISOString(), expiresAt: iso(k.expiresAt), lastUsedAt: iso(k.lastUsedAt), revokedAt: iso(k.revokedAt) };
}
