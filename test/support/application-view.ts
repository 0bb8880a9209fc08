import type { LiveApplicationView } from '../../src/services/live-application/index.js';

/** A LiveApplicationView as the change feed carries it, for feed tests that publish changes directly. */
export function applicationView(
  tenantId: string,
  id: string,
  status: LiveApplicationView['status'],
  appId = 'wx0000000000000001',
  at = new Date().toISOString(),
): LiveApplicationView {
  return {
    id,
    tenantId,
    appId,
    status,
    errcode: null,
    errmsg: null,
    errorCode: null,
    attempts: 0,
    idempotencyKey: null,
    createdAt: at,
    submittedAt: null,
    openedAt: null,
    expiresAt: null,
    updatedAt: at,
  };
}
