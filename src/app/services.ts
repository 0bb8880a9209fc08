import type { Db } from '../db/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { SecretBox } from '../lib/secret-box.js';
import { AuthorizersService } from '../services/authorizers.service.js';
import { PgCredentialStore } from '../services/credential-store.pg.js';
import { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplicationQueue, ChangePublisher } from '../services/ports.js';
import { SecretRotationService } from '../services/secret-rotation.service.js';
import { type OnComponentSecretChanged, TenantsService } from '../services/tenants.service.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import { WebhookEndpointsService } from '../services/webhooks/endpoints.service.js';
import type { Lookup, UrlPolicy } from '../services/webhooks/url-policy.js';

export interface Services {
  tenants: TenantsService;
  authorizers: AuthorizersService;
  /** Reads of live applications. */
  applications: LiveApplicationQueries;
  /** Every change of a live application (console, worker and webhook alike). */
  lifecycle: LiveApplicationLifecycle;
  credentials: PgCredentialStore;
  /** Outbound webhook endpoints (admin scope). */
  webhookEndpoints: WebhookEndpointsService;
  /** Re-encrypts every `*_enc` column under the sealing key (`wxlive secrets rotate`). */
  secrets: SecretRotationService;
}

/** The domain services over one database, queue and publisher. */
export function createServices(deps: {
  db: Db;
  box: SecretBox;
  clock: Clock;
  logger: Logger;
  queue: ApplicationQueue;
  publisher: ChangePublisher;
  /** Where outbound deliveries made by the services (authorizer.updated) are enqueued. */
  webhookQueue?: WebhookDeliveryQueue;
  /** Which endpoint URLs may be registered; default https to public addresses only. */
  urlPolicy?: UrlPolicy;
  lookup?: Lookup;
  /** CREDENTIAL_OVERLAP_MINUTES in ms; default 60 minutes. */
  credentialOverlapMs?: number;
  /** Drops the tenant's cached component token after its app secret changed. */
  onComponentSecretChanged?: OnComponentSecretChanged;
}): Services {
  const { db, box, clock, logger } = deps;
  const authorizers = new AuthorizersService(db, box, clock, deps.webhookQueue);
  return {
    tenants: new TenantsService(db, box, clock, {
      ...(deps.credentialOverlapMs === undefined ? {} : { credentialOverlapMs: deps.credentialOverlapMs }),
      ...(deps.onComponentSecretChanged === undefined ? {} : { onComponentSecretChanged: deps.onComponentSecretChanged }),
    }),
    authorizers,
    applications: new LiveApplicationQueries({ db, clock }),
    lifecycle: new LiveApplicationLifecycle({ db, authorizers, queue: deps.queue, publisher: deps.publisher, clock, logger }),
    credentials: new PgCredentialStore(db, box, clock),
    webhookEndpoints: new WebhookEndpointsService({
      db,
      box,
      clock,
      urlPolicy: deps.urlPolicy ?? { allowHttp: false, allowPrivateAddresses: false },
      ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
    }),
    secrets: new SecretRotationService(db, box),
  };
}
