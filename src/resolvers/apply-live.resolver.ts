import 'reflect-metadata';
import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { ApplyLiveInput } from '../schema/apply-live.input.js';
import { ApplyLiveBatchPayload, ApplyLivePayload, CancelLiveApplicationPayload } from '../schema/apply-live.payload.js';
import { type ApplyResult, MAX_BATCH } from '../services/live-application/index.js';
import { userError } from '../services/errors.js';

@Resolver()
export class ApplyLiveResolver {
  @Mutation(() => ApplyLivePayload, { description: 'Queues an applyliveinfo call for one merchant, or returns its active application.' })
  applyLive(@Arg('input', () => ApplyLiveInput) input: ApplyLiveInput, @Ctx() { tenant, services }: GraphqlContext): Promise<ApplyResult> {
    return services.lifecycle.apply(tenant, input);
  }

  @Mutation(() => ApplyLiveBatchPayload, { description: `applyLive for up to ${MAX_BATCH} merchants at once; one result per app id.` })
  async applyLiveBatch(
    @Arg('appIds', () => [String]) appIds: string[],
    @Ctx() { tenant, services }: GraphqlContext,
  ): Promise<{ results: (ApplyResult & { appId: string })[]; userErrors: ApplyResult['userErrors'] }> {
    if (appIds.length > MAX_BATCH) return { results: [], userErrors: [userError('BATCH_TOO_LARGE', `Got ${appIds.length} app ids.`, ['appIds'])] };
    const results = await services.lifecycle.applyBatch(tenant, appIds);
    return { results: results.map((r, i) => ({ appId: appIds[i] ?? '', ...r })), userErrors: [] };
  }

  @Mutation(() => CancelLiveApplicationPayload, { description: 'Cancels a QUEUED application.' })
  cancelLiveApplication(@Arg('id', () => ID) id: string, @Ctx() { tenant, services }: GraphqlContext): Promise<ApplyResult> {
    return services.lifecycle.cancel(tenant, id);
  }
}
