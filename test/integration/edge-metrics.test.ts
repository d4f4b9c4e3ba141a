import { afterEach, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import type { Histogram } from '@opentelemetry/sdk-metrics'
import { collectMetrics, collectOpenTelemetryMetrics } from '../../src/metrics/index.js'
import { parseScrape, promtoolCheckMetrics } from '../helpers/prometheus-text.js'
import { get, startEdge, startOrigin } from './edge-helpers.js'

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

describe('edge metrics endpoint (tiercache/metrics on prom-client)', () => {
  it('answers known traffic with the right values by result, status class, origin latency and purges, in valid exposition format', async () => {
    const origin = await startOrigin((req, res) => {
      if (req.url === '/ok') {
        res.setHeader('cache-control', 'max-age=60')
        res.setHeader('surrogate-key', 'product:1')
        res.end('ok')
      } else if (req.url === '/missing') {
        res.statusCode = 404
        res.setHeader('cache-control', 'no-store')
        res.end('no')
      } else {
        res.statusCode = 500
        res.setHeader('cache-control', 'no-store')
        res.end('boom')
      }
    })
    closers.push(() => origin.close())
    const { edge, url } = await startEdge({ origin: origin.url, admin: { port: 0 } })
    closers.push(() => edge.close())
    // Scraped before any traffic: every family is there, at zero.
    const first = parseScrape((await get(`${edge.adminUrl}/.tiercache/metrics`)).text)
    expect(first.value('tiercache_edge_requests_total', { result: 'hit' })).toBe(0)
    expect(first.histogram('tiercache_edge_origin_latency_seconds').count).toBe(0)

    for (let i = 0; i < 3; i++) expect((await get(`${url}/ok`)).status).toBe(200)
    expect((await get(`${url}/missing`)).status).toBe(404)
    expect((await get(`${url}/fails`)).status).toBe(500)
    await edge.purge({ tags: ['product:1'] })

    const response = await get(`${edge.adminUrl}/.tiercache/metrics`)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const s = parseScrape(response.text)
    expect(s.value('tiercache_edge_requests_total', { result: 'hit' })).toBe(2)
    expect(s.value('tiercache_edge_requests_total', { result: 'miss' })).toBe(edge.stats().results.miss)
    expect(s.value('tiercache_edge_responses_total', { status_class: '2xx' })).toBe(3)
    expect(s.value('tiercache_edge_responses_total', { status_class: '4xx' })).toBe(1)
    expect(s.value('tiercache_edge_responses_total', { status_class: '5xx' })).toBe(1)
    expect(s.value('tiercache_edge_origin_requests_total', { outcome: 'response' })).toBe(3)
    const latency = s.histogram('tiercache_edge_origin_latency_seconds')
    expect(latency.count).toBe(3)
    expect(latency.buckets['+Inf']).toBe(3)
    expect(s.value('tiercache_edge_purges_total')).toBe(1)
    expect(s.value('tiercache_edge_purged_entries_total')).toBe(1)
    expect(s.value('tiercache_edge_storage_entries')).toBe(0)
    expect(s.type('tiercache_edge_requests_total')).toBe('COUNTER')
    expect(s.type('tiercache_edge_storage_bytes')).toBe('GAUGE')
    expect(s.text).not.toContain('/ok')
    expect(s.text).not.toContain('product:1')

    const check = await promtoolCheckMetrics(s.text)
    expect(check.output).toBe('')
    expect(check.ok).toBe(true)
  })

  it('gives the same families through collectMetrics into an application registry', async () => {
    const origin = await startOrigin((_req, res) => { res.end('x') })
    closers.push(() => origin.close())
    const { edge, url } = await startEdge({ origin: origin.url, admin: { port: 0 } })
    closers.push(() => edge.close())
    const registry = new Registry()
    const collection = collectMetrics(edge, { registry })
    closers.push(async () => collection.close())
    await get(`${url}/a`)
    const mine = parseScrape(await registry.metrics())
    const endpoint = parseScrape((await get(`${edge.adminUrl}/.tiercache/metrics`)).text)
    expect(mine.names().sort()).toEqual(endpoint.names().sort())
    expect(mine.value('tiercache_edge_responses_total', { status_class: '2xx' })).toBe(1)
    expect(() => collectMetrics(edge, { registry })).toThrow(expect.objectContaining({ code: 'E_METRICS_CONFLICT' }))
  })

  it('gives the same families on an OpenTelemetry meter, origin latency recorded per response', async () => {
    class OnDemandReader extends MetricReader {
      protected onForceFlush(): Promise<void> { return Promise.resolve() }
      protected onShutdown(): Promise<void> { return Promise.resolve() }
    }
    const reader = new OnDemandReader()
    const provider = new MeterProvider({ readers: [reader] })
    closers.push(() => provider.shutdown())
    const origin = await startOrigin((_req, res) => { res.end('x') })
    closers.push(() => origin.close())
    const { edge, url } = await startEdge({ origin: origin.url })
    closers.push(() => edge.close())
    const collection = collectOpenTelemetryMetrics(edge, { meter: provider.getMeter('test') })
    closers.push(async () => collection.close())
    await get(`${url}/a`)
    await get(`${url}/b`)
    const { resourceMetrics } = await reader.collect()
    const metrics = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics)
    const find = (name: string) => metrics.find((m) => m.descriptor.name === name)!
    const requests = find('tiercache_edge_requests').dataPoints.find((p) => p.attributes.result === 'miss')
    expect(requests?.value).toBe(2)
    const latency = find('tiercache_edge_origin_latency_seconds')
    expect(latency.descriptor.unit).toBe('s')
    expect((latency.dataPoints[0]!.value as Histogram).count).toBe(2)
  })
})
