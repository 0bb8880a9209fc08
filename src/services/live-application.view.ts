import type { ApplicationStatus } from '../db/tables.js';
import { liveApplicationEvents, liveApplications } from '../db/tables.js';

/**
 * A LiveApplication as the API and the change feed see it. Dates are ISO strings, converted once
 * where rows are read: stringifying Date objects costs about 5x more on every response.
 */
export interface LiveApplicationView {
  id: string;
  tenantId: string;
  appId: string;
  status: ApplicationStatus;
  errcode: number | null;
  errmsg: string | null;
  errorCode: string | null;
  attempts: number;
  idempotencyKey: string | null;
  createdAt: string;
  submittedAt: string | null;
  openedAt: string | null;
  expiresAt: string | null;
  updatedAt: string;
}

export interface HistoryEventView {
  id: string;
  type: string;
  status: ApplicationStatus | null;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
  attempt: number | null;
  message: string | null;
  at: string;
}

export const applicationColumns = {
  id: liveApplications.id,
  tenantId: liveApplications.tenantId,
  appId: liveApplications.appId,
  status: liveApplications.status,
  errcode: liveApplications.errcode,
  errmsg: liveApplications.errmsg,
  errorCode: liveApplications.errorCode,
  attempts: liveApplications.attempts,
  idempotencyKey: liveApplications.idempotencyKey,
  createdAt: liveApplications.createdAt,
  submittedAt: liveApplications.submittedAt,
  openedAt: liveApplications.openedAt,
  expiresAt: liveApplications.expiresAt,
  updatedAt: liveApplications.updatedAt,
};

export type ApplicationRow = typeof liveApplications.$inferSelect;
type ApplicationSelection = Pick<ApplicationRow, keyof typeof applicationColumns>;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toApplicationView(r: ApplicationSelection): LiveApplicationView {
  return {
    id: r.id,
    tenantId: r.tenantId,
    appId: r.appId,
    status: r.status,
    errcode: r.errcode,
    errmsg: r.errmsg,
    errorCode: r.errorCode,
    attempts: r.attempts,
    idempotencyKey: r.idempotencyKey,
    createdAt: r.createdAt.toISOString(),
    submittedAt: iso(r.submittedAt),
    openedAt: iso(r.openedAt),
    expiresAt: iso(r.expiresAt),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export const historyColumns = {
  id: liveApplicationEvents.id,
  applicationId: liveApplicationEvents.applicationId,
  type: liveApplicationEvents.type,
  status: liveApplicationEvents.status,
  errcode: liveApplicationEvents.errcode,
  errmsg: liveApplicationEvents.errmsg,
  latencyMs: liveApplicationEvents.latencyMs,
  attempt: liveApplicationEvents.attempt,
  message: liveApplicationEvents.message,
  createdAt: liveApplicationEvents.createdAt,
};

export function toHistoryView(r: Omit<typeof liveApplicationEvents.$inferSelect, 'tenantId' | 'applicationId'>): HistoryEventView {
  return {
    id: String(r.id),
    type: r.type,
    status: r.status,
    errcode: r.errcode,
    errmsg: r.errmsg,
    latencyMs: r.latencyMs,
    attempt: r.attempt,
    message: r.message,
    at: r.createdAt.toISOString(),
  };
}
