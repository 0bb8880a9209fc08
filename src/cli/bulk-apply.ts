import type { Services } from '../app/services.js';
import type { ApplicationStatus } from '../db/tables.js';
import { isAppId } from '../services/app-id.js';
import { MAX_BATCH } from '../services/live-application/index.js';
import { MAX_IMPORT } from '../services/authorizers.service.js';
import type { TenantContext } from '../services/context.js';
import type { MerchantRow } from './csv.js';
import type { Progress } from './progress.js';

export interface BulkApplyError {
  line: number;
  appId: string;
  code: string;
  message: string;
}

/** Every row ends up counted once: in `byStatus` (its application's status) or in `errors`. */
export interface BulkApplySummary {
  total: number;
  /** Authorizers created or refreshed from the file's refresh_token column. */
  imported: number;
  byStatus: Partial<Record<ApplicationStatus, number>>;
  errors: BulkApplyError[];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Imports the rows that carry a refresh token, then applies for every row in batches the
 * services accept (applyBatch costs a fixed number of round trips per batch, not per row).
 */
export async function bulkApply(
  services: Pick<Services, 'authorizers' | 'lifecycle'>,
  ctx: TenantContext,
  rows: readonly MerchantRow[],
  progress: Progress,
): Promise<BulkApplySummary> {
  const summary: BulkApplySummary = { total: rows.length, imported: 0, byStatus: {}, errors: [] };

  // Invalid app ids are left to applyBatch, so each bad row is reported once, not twice.
  const toImport = new Map<string, MerchantRow>();
  for (const r of rows) if (r.refreshToken !== undefined && isAppId(r.appId)) toImport.set(r.appId, r);
  if (toImport.size > 0) {
    progress.start('importing', toImport.size);
    let done = 0;
    for (const batch of chunks([...toImport.values()], MAX_IMPORT)) {
      const results = await services.authorizers.import(
        ctx,
        batch.map((r) => ({ appId: r.appId, refreshToken: r.refreshToken ?? '' })),
      );
      results.forEach((result, i) => {
        const row = batch[i];
        if (result.authorizer) summary.imported++;
        else if (row) for (const e of result.userErrors) summary.errors.push({ line: row.line, appId: row.appId, code: e.code, message: e.message });
      });
      done += batch.length;
      progress.update(done);
    }
    progress.finish();
  }

  progress.start('applying', rows.length);
  let done = 0;
  for (const batch of chunks(rows, MAX_BATCH)) {
    const results = await services.lifecycle.applyBatch(
      ctx,
      batch.map((r) => r.appId),
    );
    results.forEach((result, i) => {
      const row = batch[i];
      if (!row) return;
      if (result.application) {
        const s = result.application.status;
        summary.byStatus[s] = (summary.byStatus[s] ?? 0) + 1;
      } else {
        for (const e of result.userErrors) summary.errors.push({ line: row.line, appId: row.appId, code: e.code, message: e.message });
      }
    });
    done += batch.length;
    progress.update(done);
  }
  progress.finish();
  return summary;
}
