/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation ApplyLive($input: ApplyLiveInput!) {\n    applyLive(input: $input) {\n      application {\n        id\n        appId\n        status\n      }\n      userErrors {\n        code\n        message\n      }\n    }\n  }\n": typeof types.ApplyLiveDocument,
    "\n  query Applications($first: Int, $after: String) {\n    liveApplications(first: $first, after: $after) {\n      totalCount\n      edges {\n        node {\n          id\n          appId\n          status\n          errorCode\n          updatedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.ApplicationsDocument,
    "\n  subscription ApplicationUpdated($id: ID) {\n    liveApplicationUpdated(id: $id) {\n      id\n      status\n      errorCode\n      errmsg\n      cursor\n    }\n  }\n": typeof types.ApplicationUpdatedDocument,
};
const documents: Documents = {
    "\n  mutation ApplyLive($input: ApplyLiveInput!) {\n    applyLive(input: $input) {\n      application {\n        id\n        appId\n        status\n      }\n      userErrors {\n        code\n        message\n      }\n    }\n  }\n": types.ApplyLiveDocument,
    "\n  query Applications($first: Int, $after: String) {\n    liveApplications(first: $first, after: $after) {\n      totalCount\n      edges {\n        node {\n          id\n          appId\n          status\n          errorCode\n          updatedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.ApplicationsDocument,
    "\n  subscription ApplicationUpdated($id: ID) {\n    liveApplicationUpdated(id: $id) {\n      id\n      status\n      errorCode\n      errmsg\n      cursor\n    }\n  }\n": types.ApplicationUpdatedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApplyLive($input: ApplyLiveInput!) {\n    applyLive(input: $input) {\n      application {\n        id\n        appId\n        status\n      }\n      userErrors {\n        code\n        message\n      }\n    }\n  }\n"): typeof import('./graphql.js').ApplyLiveDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Applications($first: Int, $after: String) {\n    liveApplications(first: $first, after: $after) {\n      totalCount\n      edges {\n        node {\n          id\n          appId\n          status\n          errorCode\n          updatedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql.js').ApplicationsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ApplicationUpdated($id: ID) {\n    liveApplicationUpdated(id: $id) {\n      id\n      status\n      errorCode\n      errmsg\n      cursor\n    }\n  }\n"): typeof import('./graphql.js').ApplicationUpdatedDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
