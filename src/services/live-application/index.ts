/** The live application's lifecycle: one table of transitions, one mapping of its row, one way in. */
export type { HistoryEventView, LiveApplicationView } from './application.row.js';
export { ACTIVE, SUBMISSION_TTL_MS, TRANSITIONS, type TransitionName } from './lifecycle.js';
export { type ApplyInput, type ApplyResult, type AttemptRecord, type EndCode, LiveApplicationLifecycle, MAX_BATCH } from './lifecycle.service.js';
export { type ApplicationFilter, type ChangedApplication, type ChangedSinceQuery, type ChangePosition, LiveApplicationQueries } from './queries.service.js';
