import type { Db } from '../db/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { SecretBox } from '../lib/secret-box.js';
import { ApplicationTransitions } from '../services/application-transitions.service.js';
import { ApplicationsService } from '../services/applications.service.js';
import { AuthorizersService } from '../services/authorizers.service.js';
import { PgCredentialStore } from '../services/credential-store.pg.js';
import type { ApplicationQueue, ChangePublisher } from '../services/ports.js';
import { TenantsService } from '../services/tenants.service.js';

export interface Services {
  tenants: TenantsService;
  authorizers: AuthorizersService;
  applications: ApplicationsService;
  transitions: ApplicationTransitions;
  credentials: PgCredentialStore;
}

/** The domain services over one database, queue and publisher. */
export function createServices(deps: { db: Db; box: SecretBox; clock: Clock; logger: Logger; queue: ApplicationQueue; publisher: ChangePublisher }): Services {
  const authorizers = new AuthorizersService(deps.db, deps.box);
  return {
    tenants: new TenantsService(deps.db, deps.box),
    authorizers,
    applications: new ApplicationsService({ db: deps.db, authorizers, queue: deps.queue, publisher: deps.publisher, logger: deps.logger }),
    transitions: new ApplicationTransitions({ db: deps.db, publisher: deps.publisher, clock: deps.clock, logger: deps.logger }),
    credentials: new PgCredentialStore(deps.db, deps.box),
  };
}
