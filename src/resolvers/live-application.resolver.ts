import 'reflect-metadata';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../graphql/context.js';
import { selects } from '../graphql/selection.js';
import { LiveApplication } from '../schema/live-application.type.js';
import { LiveApplicationConnection } from '../schema/live-application-connection.type.js';
import { LiveApplicationEvent } from '../schema/live-application-event.type.js';
import { LiveApplicationFilter } from '../schema/live-application-filter.input.js';
import type { HistoryEventView, LiveApplicationView } from '../services/live-application/index.js';
import { type Connection, toConnection } from './connection.js';

const HISTORY_OF_NODES = ['edges', 'node', 'history'];
const TOTAL_COUNT = ['totalCount'];

/**
 * `LiveApplication.history`, as a plain function: it runs once per item of every page, so the
 * schema calls it directly rather than through type-graphql's per-call wrapper (see schema.ts).
 */
export function resolveHistory(application: LiveApplicationView, _args: unknown, context: GraphqlContext): HistoryEventView[] | Promise<HistoryEventView[]> {
  return context.historyOf(application.id);
}

@Resolver(() => LiveApplication)
export class LiveApplicationResolver {
  @Query(() => LiveApplication, { nullable: true, description: "One of the caller's applications; null when there is none with this id." })
  async liveApplication(@Arg('id', () => ID) id: string, @Ctx() { tenant, services }: GraphqlContext): Promise<LiveApplicationView | null> {
    return (await services.applications.get(tenant, id)) ?? null;
  }

  @Query(() => LiveApplicationConnection, { description: "The caller's applications, newest first." })
  async liveApplications(
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 20 by default, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => LiveApplicationFilter, { nullable: true }) filter: LiveApplicationFilter | null,
    @Ctx() context: GraphqlContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<LiveApplicationView> & { totalCount?: number }> {
    const page = await context.services.applications.list(context.tenant, { first, after, filter });
    if (page.items.length > 0 && selects(info, HISTORY_OF_NODES)) await context.preloadHistory(page.items.map((a) => a.id));
    // Counted only when asked for: a console's badge, not every page read.
    if (!selects(info, TOTAL_COUNT)) return toConnection(page, after);
    return { ...toConnection(page, after), totalCount: await context.services.applications.count(context.tenant, filter) };
  }

  @FieldResolver(() => [LiveApplicationEvent])
  history(@Root() application: LiveApplicationView, @Ctx() context: GraphqlContext): HistoryEventView[] | Promise<HistoryEventView[]> {
    return resolveHistory(application, {}, context);
  }
}
