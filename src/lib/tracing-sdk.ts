import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingSdk {
  /** Sends the spans still buffered and unregisters nothing else (the process is ending). */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK: spans batched to the OTLP/HTTP endpoint (`<endpoint>/v1/traces`),
 * the async-hooks context manager and the W3C trace-context propagator registered globally.
 * Called by the process entry points only when OTEL_EXPORTER_OTLP_ENDPOINT is set; once per process.
 */
export function startTracingSdk(options: { endpoint: string; serviceName: string; role: string }): TracingSdk {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'wxlive.role': options.role }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }))],
  });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
