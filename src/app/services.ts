import type { Db } from '../db/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { SecretBox } from '../lib/secret-box.js';
import { AuthorizersService } from '../services/authorizers.service.js';
import { PgCredentialStore } from '../services/credential-store.pg.js';
import { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplicationQueue, ChangePublisher } from '../services/ports.js';
import { TenantsService } from '../services/tenants.service.js';

export interface Services {
  tenants: TenantsService;
  authorizers: AuthorizersService;
  /** Reads of live applications. */
  applications: LiveApplicationQueries;
  /** Every change of a live application (console, worker and webhook alike). */
  lifecycle: LiveApplicationLifecycle;
  credentials: PgCredentialStore;
}

/** The domain services over one database, queue and publisher. */
export function createServices(deps: { db: Db; box: SecretBox; clock: Clock; logger: Logger; queue: ApplicationQueue; publisher: ChangePublisher }): Services {
  const { db, box, clock, logger } = deps;
  const authorizers = new AuthorizersService(db, box, clock);
  return {
    tenants: new TenantsService(db, box, clock),
    authorizers,
    applications: new LiveApplicationQueries({ db, clock }),
    lifecycle: new LiveApplicationLifecycle({ db, authorizers, queue: deps.queue, publisher: deps.publisher, clock, logger }),
    credentials: new PgCredentialStore(db, box, clock),
  };
}
