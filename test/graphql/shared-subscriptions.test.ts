import { buildSchema, type ExecutionResult, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { sharedSubscribe } from '../../src/graphql/shared-subscriptions.js';

/** A subscription field fed by hand: each `emit` reaches every open stream as the same object, as ChangeSubscriber does. */
function harness() {
  const streams = new Set<(payload: { event: { n: number } }) => void>();
  const closed: number[] = [];
  let executions = 0;
  let opened = 0;
  const schema = buildSchema('type Query { x: Int } type Event { n: Int! label(prefix: String): String! } type Subscription { event: Event! }');
  const rootValue = {
    event: () => {
      const id = opened++;
      const queue: { event: { n: number } }[] = [];
      let wake: (() => void) | undefined;
      const push = (payload: { event: { n: number } }) => {
        queue.push(payload);
        wake?.();
      };
      streams.add(push);
      const iterator: AsyncIterableIterator<{ event: { n: number } }> = {
        async next() {
          while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          return { value: queue.shift() as { event: { n: number } }, done: false };
        },
        async return() {
          streams.delete(push);
          closed.push(id);
          return { value: undefined, done: true };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },
  };
  const Event = schema.getType('Event') as import('graphql').GraphQLObjectType;
  const label = Event.getFields().label;
  if (label)
    label.resolve = (e: { n: number }, args: { prefix?: string }) => {
      executions++;
      return `${args.prefix ?? ''}${e.n}`;
    };
  return {
    schema,
    rootValue,
    emit: (e: { n: number }) => {
      const payload = { event: e };
      for (const s of streams) s(payload);
    },
    closed,
    executions: () => executions,
  };
}

describe('sharedSubscribe', () => {
  it('executes a change once per distinct document and variables, and every subscriber gets its result', async () => {
    const h = harness();
    const subscribe = sharedSubscribe();
    const same = parse('subscription($p: String) { event { n label(prefix: $p) } }');
    const other = parse('subscription { event { label } }');
    const open = async (document: typeof same, variableValues?: Record<string, unknown>) =>
      (await subscribe({
        schema: h.schema,
        document,
        rootValue: h.rootValue,
        ...(variableValues ? { variableValues } : {}),
      })) as AsyncGenerator<ExecutionResult>;
    const streams = [await open(same, { p: 'a' }), await open(same, { p: 'a' }), await open(same, { p: 'a' }), await open(same, { p: 'b' }), await open(other)];
    h.emit({ n: 7 });
    const results = await Promise.all(streams.map((s) => s.next()));
    expect(results.map((r) => r.value)).toEqual([
      { data: { event: { n: 7, label: 'a7' } } },
      { data: { event: { n: 7, label: 'a7' } } },
      { data: { event: { n: 7, label: 'a7' } } },
      { data: { event: { n: 7, label: 'b7' } } },
      { data: { event: { label: '7' } } },
    ]);
    // Three distinct (document, variables): three executions for five subscribers.
    expect(h.executions()).toBe(3);
    // The next change is executed again.
    h.emit({ n: 8 });
    expect((await streams[0]?.next())?.value).toEqual({ data: { event: { n: 8, label: 'a8' } } });
    expect(h.executions()).toBe(4);
    for (const s of streams) await s.return(undefined);
    expect(h.closed.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('returns the errors of a subscription that cannot start, as graphql-js does', async () => {
    const h = harness();
    const result = await sharedSubscribe()({ schema: h.schema, document: parse('subscription { nope }'), rootValue: h.rootValue });
    expect((result as ExecutionResult).errors?.length).toBeGreaterThan(0);
  });
});
