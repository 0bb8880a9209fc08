import type { TenantQuotaSettings, TenantSummary } from '../../services/tenants.service.js';
import type { Args } from '../args.js';
import { systemContext } from '../../services/context.js';
import { CliError, EXIT } from '../cli-errors.js';
import { type Command, str } from '../command.js';
import type { Output } from '../output.js';
import { shortTime } from '../output.js';

const quotaOptions = { 'daily-quota-per-app': str, 'daily-quota-per-tenant': str, 'calls-per-second': str, 'rate-limit': str, 'rate-burst': str };
const quotaSynopsis =
  '[--daily-quota-per-app N] [--daily-quota-per-tenant N|unlimited] [--calls-per-second R] [--rate-limit N|default] [--rate-burst N|default]';

/** A whole number, or "default" for null (the configured RATE_LIMIT_*). */
function orDefault(args: Args, name: string): number | null | undefined {
  return args.string(name)?.toLowerCase() === 'default' ? null : args.int(name, 1);
}

function quotaSettings(args: Args): TenantQuotaSettings {
  const perApp = args.int('daily-quota-per-app', 1);
  const perTenant = args.limit('daily-quota-per-tenant');
  const cps = args.int('calls-per-second', 1);
  const rate = orDefault(args, 'rate-limit');
  const burst = orDefault(args, 'rate-burst');
  return {
    ...(perApp !== undefined && { dailyQuotaPerApp: perApp }),
    ...(perTenant !== undefined && { dailyQuotaPerTenant: perTenant }),
    ...(cps !== undefined && { callsPerSecond: cps }),
    ...(rate !== undefined && { rateLimitPerSecond: rate }),
    ...(burst !== undefined && { rateLimitBurst: burst }),
  };
}

/** The tenant as printed: no secrets (they never leave the service decrypted). */
function tenantJson(t: TenantSummary) {
  return { ...t, createdAt: t.createdAt.toISOString() };
}

function printTenants(out: Output, tenants: readonly TenantSummary[]): void {
  out.table(
    ['ID', 'NAME', 'COMPONENT APP ID', 'PER APP/DAY', 'PER TENANT/DAY', 'CALLS/S', 'API RATE/S', 'API BURST', 'CREATED'],
    tenants.map((t) => [
      t.id,
      t.name,
      t.componentAppId,
      String(t.dailyQuotaPerApp),
      t.dailyQuotaPerTenant === null ? 'unlimited' : String(t.dailyQuotaPerTenant),
      String(t.callsPerSecond),
      t.rateLimitPerSecond === null ? 'default' : String(t.rateLimitPerSecond),
      t.rateLimitBurst === null ? 'default' : String(t.rateLimitBurst),
      shortTime(t.createdAt),
    ]),
  );
}

export const tenantCreate: Command = {
  name: 'tenant create',
  synopsis: `--name N --component-app-id A --component-app-secret S --token T --encoding-aes-key K ${quotaSynopsis}`,
  summary: 'Register a service provider; prints its id and a first API key (write scope, shown once).',
  options: { name: str, 'component-app-id': str, 'component-app-secret': str, token: str, 'encoding-aes-key': str, ...quotaOptions },
  async run({ args, out, runtime }) {
    const input = {
      name: args.required('name'),
      componentAppId: args.required('component-app-id'),
      componentAppSecret: args.required('component-app-secret'),
      token: args.required('token'),
      encodingAesKey: args.required('encoding-aes-key'),
      ...quotaSettings(args),
    };
    const { services } = await runtime();
    const { tenant, apiKey } = await services.tenants.create(input);
    out.result({ tenant: tenantJson(tenant), apiKey: apiKey.key }, () => {
      out.line(`Created tenant ${tenant.id} (${tenant.name}, component app ${tenant.componentAppId}).`);
      out.line(`API key (write scope; shown once, store it now):`);
      out.line(`  ${apiKey.key}`);
    });
    return EXIT.OK;
  },
};

const credentialOptions = { token: str, 'encoding-aes-key': str, 'component-app-secret': str };

export const tenantUpdate: Command = {
  name: 'tenant update',
  synopsis: `--tenant ID ${quotaSynopsis} [--token T] [--encoding-aes-key K] [--component-app-secret S]`,
  summary:
    'Change quota settings ("--daily-quota-per-tenant unlimited" clears the tenant-wide cap), the GraphQL rate limit per API key (--rate-limit requests/s, --rate-burst bucket size; "default": RATE_LIMIT_*; needs Redis), or rotate credentials: pushes under the previous token and EncodingAESKey are accepted for CREDENTIAL_OVERLAP_MINUTES; a new app secret drops the cached component token.',
  options: { tenant: str, ...quotaOptions, ...credentialOptions },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const settings = quotaSettings(args);
    const credentials = {
      token: args.string('token'),
      encodingAesKey: args.string('encoding-aes-key'),
      componentAppSecret: args.string('component-app-secret'),
    };
    const rotates = Object.values(credentials).some((v) => v !== undefined);
    if (Object.keys(settings).length === 0 && !rotates) {
      throw args.error(
        'give at least one of --daily-quota-per-app, --daily-quota-per-tenant, --calls-per-second, --rate-limit, --rate-burst, --token, --encoding-aes-key, --component-app-secret',
      );
    }
    // Redis for a rate limit change (published to the gateways, whose key caches hold the old one)
    // and to drop the cached component token after a new secret.
    const rateChange = settings.rateLimitPerSecond !== undefined || settings.rateLimitBurst !== undefined;
    const { services } = await runtime({ redis: rateChange || credentials.componentAppSecret !== undefined });
    let tenant = Object.keys(settings).length > 0 ? await services.tenants.update(id, settings) : undefined;
    let previousAcceptedUntil: Date | null = null;
    if (rotates) {
      const rotated = await services.tenants.updateCredentials(systemContext(id), credentials);
      const [problem] = rotated.userErrors;
      // The userError's message already says what to do.
      if (problem || !rotated.tenant) throw new CliError(problem?.code ?? 'INVALID_INPUT', problem?.message ?? 'The credentials were not changed.');
      tenant = rotated.tenant;
      previousAcceptedUntil = rotated.previousAcceptedUntil;
    }
    if (!tenant) throw new Error('tenant update changed nothing');
    const shown = tenant;
    out.result({ tenant: tenantJson(shown), previousCredentialsAcceptedUntil: previousAcceptedUntil?.toISOString() ?? null }, () => {
      printTenants(out, [shown]);
      if (previousAcceptedUntil) out.line(`Pushes under the previous token and EncodingAESKey are accepted until ${previousAcceptedUntil.toISOString()}.`);
    });
    return EXIT.OK;
  },
};

export const tenantList: Command = {
  name: 'tenant list',
  synopsis: '',
  summary: 'List tenants and their quota settings.',
  options: {},
  async run({ out, runtime }) {
    const { services } = await runtime();
    const tenants = await services.tenants.list();
    out.result({ tenants: tenants.map(tenantJson) }, () => (tenants.length === 0 ? out.line('No tenants yet.') : printTenants(out, tenants)));
    return EXIT.OK;
  },
};
