import { type Attributes, type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * Spans through `@opentelemetry/api` only: without a registered SDK (OTEL_EXPORTER_OTLP_ENDPOINT
 * unset) every call here is a no-op, so the code is the same with tracing on or off.
 */
const tracer = trace.getTracer('wxlive-gateway');

export { SpanKind };
export type TraceContext = Context;

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent, when it is not the active context (a job's, carried in its data). */
  parent?: Context;
  /** Throws that are outcomes, not failures (a job parked with DelayedError): named on the span, status left unset. */
  expected?: (err: unknown) => boolean;
}

/** Runs `fn` in a new active span, ended when `fn` settles; a throw marks it failed and is rethrown. */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        if (options.expected?.(err)) {
          span.setAttribute('wxlive.outcome', err instanceof Error ? err.name : String(err));
          throw err;
        }
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR, ...(err instanceof Error ? { message: err.message } : {}) });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The active span, to name or annotate once more is known (the GraphQL operation after parsing). */
export function activeSpan(): Span | undefined {
  return trace.getActiveSpan();
}

/** The active trace as a W3C `traceparent` string, for job data (small JSON); undefined when nothing is traced. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a `traceparent` from job data continues; the root context without one. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  return traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** The trace a caller sent in its `traceparent` header, continued by the request's span. */
export function contextFromHeaders(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** The active tracing context, to carry work queued now and started later from elsewhere. */
export function activeTraceContext(): Context {
  return context.active();
}

/** Runs `fn` in a tracing context captured earlier with activeTraceContext. */
export function withTraceContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
