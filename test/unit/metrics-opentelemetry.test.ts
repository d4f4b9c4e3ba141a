import { afterEach, describe, expect, it } from 'vitest'
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics'
import { createCache } from '../../src/compose/create-cache.js'
import { silentLogger } from '../../src/core/logger.js'
import { collectOpenTelemetryMetrics } from '../../src/metrics/index.js'

/** A reader that collects on demand: the OpenTelemetry SDK's in-process way to read what a meter holds. */
class OnDemandReader extends MetricReader {
  protected onForceFlush(): Promise<void> { return Promise.resolve() }
  protected onShutdown(): Promise<void> { return Promise.resolve() }
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.collect()
    expect(errors).toEqual([])
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
  }
}

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close()
})

function point(metrics: MetricData[], name: string, attributes: Record<string, string>): DataPoint<number | Histogram> {
  const metric = metrics.find((m) => m.descriptor.name === name)
  if (metric === undefined) throw new Error(`no instrument ${name}; have ${metrics.map((m) => m.descriptor.name).join(', ')}`)
  const found = (metric.dataPoints as DataPoint<number | Histogram>[]).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(attributes)}, found ${found.length}`)
  return found[0]!
}

describe('collectOpenTelemetryMetrics', () => {
  it('exposes the same families on a meter: counters, gauges with units, and loader histograms', async () => {
    const reader = new OnDemandReader()
    const provider = new MeterProvider({ readers: [reader] })
    const cache = createCache({ logger: silentLogger, namespace: 'otel', l1: { maxBytes: 1024 * 1024 } })
    open.push(cache)
    open.push(collectOpenTelemetryMetrics(cache, { meter: provider.getMeter('test') }))

    await cache.set('a', 1)
    await cache.get('a')
    await cache.get('a')
    await cache.get('missing')
    await cache.getOrSet('b', () => Promise.resolve(2))
    await expect(cache.getOrSet('c', () => Promise.reject(new Error('down')))).rejects.toThrow('down')

    const metrics = await reader.metrics()
    expect(point(metrics, 'tiercache_requests', { namespace: 'otel', tier: 'l1', result: 'hit' }).value).toBe(2)
    expect(point(metrics, 'tiercache_loader_calls', { namespace: 'otel' }).value).toBe(2)
    expect(point(metrics, 'tiercache_loader_errors', { namespace: 'otel' }).value).toBe(1)
    const bytes = metrics.find((m) => m.descriptor.name === 'tiercache_l1_max_bytes')!
    expect(bytes.descriptor.unit).toBe('By')
    expect(point(metrics, 'tiercache_l1_max_bytes', { namespace: 'otel' }).value).toBe(1024 * 1024)
    const loads = metrics.find((m) => m.descriptor.name === 'tiercache_loader_duration_seconds')!
    expect(loads.dataPointType).toBe(DataPointType.HISTOGRAM)
    expect(loads.descriptor.unit).toBe('s')
    expect((point(metrics, 'tiercache_loader_duration_seconds', { namespace: 'otel', result: 'ok' }).value as Histogram).count).toBe(1)
    expect((point(metrics, 'tiercache_loader_duration_seconds', { namespace: 'otel', result: 'error' }).value as Histogram).count).toBe(1)

    // Counters are cumulative: a later collection sees the later traffic.
    await cache.get('a')
    expect(point(await reader.metrics(), 'tiercache_requests', { namespace: 'otel', tier: 'l1', result: 'hit' }).value).toBe(3)
    await provider.shutdown()
  })

  it('stops observing once closed', async () => {
    const reader = new OnDemandReader()
    const provider = new MeterProvider({ readers: [reader] })
    const cache = createCache({ logger: silentLogger, namespace: 'otel-closed' })
    open.push(cache)
    const collection = collectOpenTelemetryMetrics(cache, { meter: provider.getMeter('test') })
    await cache.getOrSet('b', () => Promise.resolve(2))
    collection.close()
    await cache.getOrSet('c', () => Promise.resolve(3))
    const metrics = await reader.metrics()
    expect(metrics.find((m) => m.descriptor.name === 'tiercache_requests')?.dataPoints ?? []).toEqual([])
    expect((point(metrics, 'tiercache_loader_duration_seconds', { namespace: 'otel-closed', result: 'ok' }).value as Histogram).count).toBe(1)
    expect(() => collectOpenTelemetryMetrics(cache, { meter: {} as never })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
    await provider.shutdown()
  })
})
