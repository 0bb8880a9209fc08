import { systemContext } from '../../services/context.js';
import { DomainError } from '../../services/errors.js';
import { CliError, EXIT } from '../cli-errors.js';
import { type Command, str } from '../command.js';
import { shortTime } from '../output.js';

const KINDS = ['relay', 'events'] as const;

export const webhookCreate: Command = {
  name: 'webhook create',
  synopsis: '--tenant ID --url URL --kind relay|events [--events a,b]',
  summary: "Register a webhook endpoint: relay (WeChat's pushes, verbatim) or events (signed gateway events); prints its id and secret (shown once).",
  options: { tenant: str, url: str, kind: str, events: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const url = args.required('url');
    const kind = args.oneOf('kind', KINDS);
    if (kind === undefined) throw new DomainError('INVALID_INPUT', '--kind relay|events is required.');
    const events = args
      .string('events')
      ?.split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
    const rt = await runtime();
    await rt.tenant(id);
    const created = await rt.services.webhookEndpoints.create(systemContext(id), { url, kind: kind === 'relay' ? 'RELAY' : 'EVENTS', events: events ?? null });
    const [problem] = created.userErrors;
    // The userError's message already says what to do; DomainError would say it twice.
    if (problem || !created.endpoint) throw new CliError(problem?.code ?? 'INVALID_INPUT', problem?.message ?? 'The endpoint was not created.');
    const endpoint = created.endpoint;
    out.result({ id: endpoint.id, url: endpoint.url, kind: endpoint.kind, events: endpoint.events, secret: created.secret }, () => {
      out.line(`Created ${endpoint.kind} endpoint ${endpoint.id} for ${endpoint.url} (${endpoint.events?.join(', ') ?? 'all types'}).`);
      out.line('Signing secret (shown once, store it now; deliveries carry webhook-signature made with it):');
      out.line(`  ${created.secret ?? ''}`);
    });
    return EXIT.OK;
  },
};

export const webhookList: Command = {
  name: 'webhook list',
  synopsis: '--tenant ID',
  summary: "List a tenant's webhook endpoints (secrets are never shown again).",
  options: { tenant: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const rt = await runtime();
    await rt.tenant(id);
    const endpoints = await rt.services.webhookEndpoints.list(systemContext(id));
    const json = endpoints.map((e) => ({ ...e, createdAt: e.createdAt.toISOString(), updatedAt: e.updatedAt.toISOString() }));
    out.result({ endpoints: json }, () =>
      out.table(
        ['ID', 'KIND', 'URL', 'EVENTS', 'ENABLED', 'CREATED'],
        endpoints.map((e) => [
          e.id,
          e.kind,
          e.url,
          e.events?.join(',') ?? '*',
          e.enabled ? 'yes' : `no${e.disabledReason ? ` (${e.disabledReason})` : ''}`,
          shortTime(e.createdAt),
        ]),
      ),
    );
    return EXIT.OK;
  },
};
