import { createSourceEventStream, type DocumentNode, type ExecutionArgs, type ExecutionResult, execute } from 'graphql';

/**
 * graphql-js's `subscribe`, with each event's execution shared: one change reaches every
 * subscriber of its tenant as the same object (ChangeSubscriber parses it once), so subscribers
 * of the same document with the same operation name and variables get the same result, computed
 * once per change instead of once per subscriber; graphql-ws then serializes that one object for
 * each socket. The result depends only on the change, the document and the variables: every
 * subscriber of a change is of its tenant, and resolvers below the root read only the change
 * (history through the context's loader, for the same tenant).
 *
 * Results are kept in a WeakMap keyed by the event, so they live as long as the change does.
 * Events that are not objects (none of ours) execute per subscriber, as graphql-js does.
 */
export function sharedSubscribe(): (args: ExecutionArgs) => Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const results = new WeakMap<object, Map<DocumentNode, Map<string, ExecutionResult | Promise<ExecutionResult>>>>();

  const resultFor = (args: ExecutionArgs, key: string, payload: unknown): ExecutionResult | Promise<ExecutionResult> => {
    const run = () => execute({ ...args, rootValue: payload });
    if (typeof payload !== 'object' || payload === null) return run();
    let byDocument = results.get(payload);
    if (!byDocument) {
      byDocument = new Map();
      results.set(payload, byDocument);
    }
    let byKey = byDocument.get(args.document);
    if (!byKey) {
      byKey = new Map();
      byDocument.set(args.document, byKey);
    }
    let result = byKey.get(key);
    if (result === undefined) {
      result = run();
      byKey.set(key, result);
    }
    return result;
  };

  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    const key = `${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}`;
    return mapEvents(stream[Symbol.asyncIterator](), (payload) => resultFor(args, key, payload));
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown })?.[Symbol.asyncIterator] === 'function';
}

/** As graphql-js's mapAsyncIterator: `return` and `throw` reach the source (the feed unlistens), a mapping error closes it. */
function mapEvents<T, U>(source: AsyncIterator<T>, map: (value: T) => U | Promise<U>): AsyncGenerator<U> {
  const close = async () => {
    await source.return?.();
  };
  const iterator: AsyncGenerator<U> = {
    async next() {
      const step = await source.next();
      if (step.done) return { value: undefined, done: true };
      try {
        return { value: await map(step.value), done: false };
      } catch (err) {
        await close().catch(() => {});
        throw err;
      }
    },
    async return() {
      await close();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      if (source.throw) {
        const step = await source.throw(error);
        if (!step.done) return { value: await map(step.value), done: false };
        return { value: undefined, done: true };
      }
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async [Symbol.asyncDispose]() {
      await close();
    },
  } as AsyncGenerator<U>;
  return iterator;
}
