import {
  context,
  propagation,
  trace,
  SpanStatusCode,
  type Context,
  type Exception,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { maskSecrets } from './logger';

export { SpanStatusCode, context, trace } from '@opentelemetry/api';
export type { Context, Span, Tracer } from '@opentelemetry/api';

export interface TracingHandle {
  tracer: Tracer;
  /** Flushes buffered spans and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for the process. Spans are always created (so trace ids exist for logs and run
 * records); they are exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the
 * traces-specific variable) is set, and the process is silent otherwise. Extra processors (e.g. an
 * in-memory exporter in tests) may be passed.
 */
export function startTracing(service: string, opts: { env?: NodeJS.ProcessEnv; spanProcessors?: SpanProcessor[] } = {}): TracingHandle {
  const env = opts.env ?? process.env;
  const processors: SpanProcessor[] = [...(opts.spanProcessors ?? [])];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? service }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { tracer: trace.getTracer(service), shutdown: () => provider.shutdown() };
}

/** Header carriers: NATS `MsgHdrs`, fetch `Headers` and plain records all fit one of these. */
export interface HeaderCarrier {
  get(key: string): string | undefined | null;
  set(key: string, value: string): void;
}

const carrierSetter: TextMapSetter<HeaderCarrier> = { set: (c, k, v) => c.set(k, v) };
const carrierGetter: TextMapGetter<HeaderCarrier> = {
  get: (c, k) => c.get(k) || undefined,
  keys: () => ['traceparent', 'tracestate'],
};

/** Writes `traceparent`/`tracestate` of the given (default: active) context into the carrier. */
export function injectTraceHeaders(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, carrierSetter);
}

/** Reads a context from `traceparent`/`tracestate` in the carrier (the active one if absent). */
export function extractTraceContext(carrier: HeaderCarrier | undefined, base: Context = context.active()): Context {
  return carrier ? propagation.extract(base, carrier, carrierGetter) : base;
}

/** The trace id of the active span, for logs and run records. */
export function currentTraceId(): string | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/**
 * Runs `fn` inside a new active span; records an exception and error status if it throws, and
 * always ends the span.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions & { parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(safeException(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      if (err && typeof err === 'object' && 'code' in err) span.setAttribute('error.type', String((err as { code: unknown }).code));
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * An error as a span exception event, with secrets, phone and account numbers masked in its message
 * and stack as in the logs (spans leave the process for the tracing backend). Use with
 * `span.recordException(safeException(err))`.
 */
export function safeException(err: unknown): Exception {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: maskSecrets(e.message), ...(e.stack !== undefined ? { stack: maskSecrets(e.stack) } : {}) };
}

/** A pino `mixin` that stamps the active trace and span ids on every log line. */
export function traceLogFields(): Record<string, string> {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
