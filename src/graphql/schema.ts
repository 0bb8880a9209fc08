import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchemaSync, type PubSub } from 'type-graphql';
import { resolvers } from '../resolvers/index.js';

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
  schema ??= buildSchemaSync({ resolvers: [...resolvers], validate: false, pubSub: noTopics });
  return schema;
}
