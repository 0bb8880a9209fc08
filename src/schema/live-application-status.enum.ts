import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import type { ApplicationStatus } from '../db/tables.js';

/** Mirrors APPLICATION_STATUSES in the database; the keys are the GraphQL names. */
export const LiveApplicationStatus = {
  QUEUED: 'QUEUED',
  SUBMITTED: 'SUBMITTED',
  OPENED: 'OPENED',
  REJECTED: 'REJECTED',
  EXPIRED: 'EXPIRED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
} as const satisfies Record<ApplicationStatus, ApplicationStatus>;

registerEnumType(LiveApplicationStatus, {
  name: 'LiveApplicationStatus',
  description: 'QUEUED → SUBMITTED → OPENED | EXPIRED; or REJECTED, FAILED, CANCELLED.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for its applyliveinfo call (possibly for quota).' },
    SUBMITTED: { description: "WeChat accepted it; the merchant's admin has 24 hours to accept the terms." },
    OPENED: { description: 'Live broadcasting is open for the Mini Program.' },
    REJECTED: { description: 'errcode 2: no payment in the last 90 days.' },
    EXPIRED: { description: 'No open event within 24 hours of SUBMITTED.' },
    FAILED: { description: 'A permanent error, or retries used up; see errcode and errmsg.' },
    CANCELLED: { description: 'By the tenant, or because the merchant revoked the authorization.' },
  },
});
