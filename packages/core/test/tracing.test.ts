import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { currentTraceId, extractTraceContext, injectTraceHeaders, startTracing, trace, withSpan } from '../src/tracing';

class MapCarrier {
  readonly map = new Map<string, string>();
  get(k: string) {
    return this.map.get(k);
  }
  set(k: string, v: string) {
    this.map.set(k, v);
  }
}

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  const handle = startTracing('tracing-test', { env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  afterAll(() => handle.shutdown());

  it('carries the trace across a header carrier (publisher → consumer)', async () => {
    const carrier = new MapCarrier();
    let publisherTrace = '';
    await withSpan(handle.tracer, 'publish', {}, async () => {
      publisherTrace = currentTraceId()!;
      injectTraceHeaders(carrier);
    });
    expect(carrier.get('traceparent')).toMatch(new RegExp(`^00-${publisherTrace}-[0-9a-f]{16}-01$`));

    const parent = extractTraceContext(carrier);
    await withSpan(handle.tracer, 'consume', { parent }, async () => {
      expect(currentTraceId()).toBe(publisherTrace);
    });
    const consume = exporter.getFinishedSpans().find((s) => s.name === 'consume')!;
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'publish')!;
    expect(consume.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
  });

  it('records errors on the span and rethrows', async () => {
    const err = Object.assign(new Error('boom'), { code: 'provider_unavailable' });
    await expect(withSpan(handle.tracer, 'failing', {}, async () => Promise.reject(err))).rejects.toBe(err);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'failing')!;
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('provider_unavailable');
  });

  it('masks secrets and phone numbers in the recorded exception', async () => {
    const err = new Error('GET /accountholder/msisdn/260971234567/active?access_token=SEKRET failed');
    await expect(withSpan(handle.tracer, 'leaky', {}, async () => Promise.reject(err))).rejects.toBe(err);
    const event = exporter
      .getFinishedSpans()
      .find((s) => s.name === 'leaky')!
      .events.find((e) => e.name === 'exception')!;
    const recorded = JSON.stringify(event.attributes);
    expect(recorded).toContain('msisdn/***567/active?access_token=[redacted]');
    expect(recorded).not.toMatch(/SEKRET|260971234567/);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
