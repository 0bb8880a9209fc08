import { type DocumentNode, GraphQLError, type GraphQLSchema, getOperationAST, type ParseOptions, parse, type ValidationRule, validate } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { ApiKeyScope } from '../services/context.js';
import { scopesNeeded } from './operation-scopes.js';

/** A query operation parsed, validated with the server's rules and compiled, ready to run. */
export interface CompiledOperation {
  document: DocumentNode;
  compiled: CompiledQuery;
  /** The scopes its root fields need (see operation-scopes.ts): the fast path checks them before running it. */
  scopes: readonly ApiKeyScope[];
}

/** A parsed document and its validation errors (parse errors have no document). */
export interface ValidatedDocument {
  document: DocumentNode | undefined;
  errors: readonly GraphQLError[];
}

export interface CompiledOperationsOptions {
  /** The full rule set: graphql's specified rules, the protection rules, the introspection rule. */
  rules: readonly ValidationRule[];
  /** The parse limits Apollo and graphql-ws use (maxTokens). */
  parseOptions?: ParseOptions;
  /** Distinct query texts kept (oldest dropped first). */
  maxEntries?: number;
  /** Longer query texts are not kept (they take the ordinary path every time). */
  maxQueryLength?: number;
}

/**
 * Query operations by query text and operation name, for the HTTP fast path: a text seen before
 * costs one Map lookup instead of Apollo's hash, document-store lookup and plugin hooks. Only
 * what would succeed is kept: text that fails to parse or validate, names no operation, or is a
 * mutation or subscription is remembered as `null` so the request takes Apollo's path (which
 * produces the errors, and runs the scope check of mutations) without being parsed here again.
 */
export class CompiledOperations {
  private readonly entries = new Map<string, Map<string, CompiledOperation | null>>();
  private readonly documents = new Map<string, ValidatedDocument>();
  private readonly maxEntries: number;
  private readonly maxQueryLength: number;
  /** Operation names kept per query text: a document holds a few operations, not thousands. */
  private readonly maxNamesPerQuery = 8;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly options: CompiledOperationsOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.maxQueryLength = options.maxQueryLength ?? 16_384;
  }

  /** The compiled query operation, or null when this request should take the ordinary path. */
  get(query: string, operationName: string | undefined): CompiledOperation | null {
    if (query.length > this.maxQueryLength) return null;
    let byName = this.entries.get(query);
    if (!byName) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
      byName = new Map();
      this.entries.set(query, byName);
    }
    const name = operationName ?? '';
    let entry = byName.get(name);
    if (entry === undefined) {
      if (byName.size >= this.maxNamesPerQuery) return null;
      entry = this.compile(query, operationName);
      byName.set(name, entry);
    }
    return entry;
  }

  /**
   * The query text parsed and validated with the rules, shared by every request with the same
   * text (graphql-ws subscriptions: ten thousand subscribers to one query hold one document, not
   * ten thousand). Errors are returned, not thrown; texts over the length limit are not kept.
   */
  validated(query: string): ValidatedDocument {
    const hit = this.documents.get(query);
    if (hit) return hit;
    let entry: ValidatedDocument;
    try {
      const document = parse(query, this.options.parseOptions);
      entry = { document, errors: validate(this.schema, document, this.options.rules) };
    } catch (err) {
      entry = { document: undefined, errors: [err instanceof GraphQLError ? err : new GraphQLError('Syntax error')] };
    }
    if (query.length <= this.maxQueryLength) {
      if (this.documents.size >= this.maxEntries) this.documents.delete(this.documents.keys().next().value as string);
      this.documents.set(query, entry);
    }
    return entry;
  }

  private compile(query: string, operationName: string | undefined): CompiledOperation | null {
    const { document, errors } = this.validated(query);
    if (!document || errors.length > 0) return null;
    const operation = getOperationAST(document, operationName);
    if (operation?.operation !== 'query') return null;
    const compiled = compileQuery(this.schema, document, operationName);
    return isCompiledQuery(compiled) ? { document, compiled, scopes: scopesNeeded(this.schema, document, operation) } : null;
  }
}
