import 'reflect-metadata';
import { type GraphQLSchema, isObjectType } from 'graphql';
import { buildSchemaSync, type PubSub } from 'type-graphql';
import { resolvers } from '../resolvers/index.js';
import { resolveHistory } from '../resolvers/live-application.resolver.js';

let schema: GraphQLSchema | undefined;

// type-graphql insists on a PubSub as soon as a schema has subscriptions, even when every one
// brings its own `subscribe` (ours read the Redis change feed); topics are never used.
const noTopics: PubSub = {
  publish() {
    throw new Error('subscriptions here use `subscribe`, not topics');
  },
  subscribe() {
    throw new Error('subscriptions here use `subscribe`, not topics');
  },
};

/** The executable schema, built once per process on first use (nothing happens at import). */
export function graphqlSchema(): GraphQLSchema {
  // validate: false — inputs are checked by the services, which own the error codes.
  schema ??= withDirectFieldResolvers(buildSchemaSync({ resolvers: [...resolvers], validate: false, pubSub: noTopics }));
  return schema;
}

/**
 * type-graphql wraps each field resolver in a function that, on every call, copies the parent
 * object into a new class instance and resolves the decorated parameters. Fields resolved once
 * per list item get the plain function instead (we use no middlewares, auth checkers or
 * validation, which the wrapper would apply).
 */
function withDirectFieldResolvers(built: GraphQLSchema): GraphQLSchema {
  const application = built.getType('LiveApplication');
  const history = isObjectType(application) ? application.getFields().history : undefined;
  if (!history) throw new Error('LiveApplication.history is missing from the schema');
  history.resolve = resolveHistory as NonNullable<typeof history.resolve>;
  return built;
}
