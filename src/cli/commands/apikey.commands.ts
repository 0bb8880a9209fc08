import { API_KEY_SCOPES } from '../../services/context.js';
import { DomainError } from '../../services/errors.js';
import { EXIT } from '../cli-errors.js';
import { type Command, str, strs } from '../command.js';
import { shortTime } from '../output.js';

export const apikeyCreate: Command = {
  name: 'apikey create',
  synopsis: '--tenant ID [--scope read|write|token|admin ...]',
  summary: 'Create an API key (default scope write, which also reads; --scope repeats or takes a list, e.g. token); shown once.',
  options: { tenant: str, scope: strs },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const scopes = args.someOf('scope', API_KEY_SCOPES) ?? ['write'];
    const rt = await runtime();
    await rt.tenant(id);
    const key = await rt.services.tenants.createApiKey(id, scopes);
    out.result({ apiKey: key.key, id: key.id, prefix: key.prefix, scopes: key.scopes }, () => {
      out.line(`Created API key ${key.prefix} (scopes ${key.scopes.join(', ')}; shown once, store it now):`);
      out.line(`  ${key.key}`);
    });
    return EXIT.OK;
  },
};

export const apikeyRevoke: Command = {
  name: 'apikey revoke',
  synopsis: '--tenant ID --key PREFIX_OR_ID',
  summary: 'Revoke a key by its prefix (as "apikey list" shows it), its id, or the key itself.',
  options: { tenant: str, key: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const given = args.required('key');
    // A whole key (wxl_<prefix>_<secret>) pasted by mistake still names its prefix.
    const prefix = /^wxl_([0-9a-f]{8})_/.exec(given)?.[1] ?? given;
    const rt = await runtime();
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
  summary: "List a tenant's API keys (prefixes only; keys are stored as hashes).",
  options: { tenant: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const rt = await runtime();
    await rt.tenant(id);
    const keys = await rt.services.tenants.listApiKeys(id);
    const json = keys.map((k) => ({ ...k, createdAt: k.createdAt.toISOString(), revokedAt: k.revokedAt?.toISOString() ?? null }));
    out.result({ apiKeys: json }, () =>
      out.table(
        ['ID', 'PREFIX', 'SCOPES', 'CREATED', 'REVOKED'],
        keys.map((k) => [k.id, k.prefix, k.scopes.join(','), shortTime(k.createdAt), shortTime(k.revokedAt)]),
      ),
    );
    return EXIT.OK;
  },
};
