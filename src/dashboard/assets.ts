import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

/** The charting library's files the page loads, served from the installed uplot package (no CDN). */
const FILES: Readonly<Record<string, { path: string; type: string }>> = {
  'uPlot.iife.min.js': { path: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
}

/**
 * Reads one of the chart library's files; undefined for any other name (the name is looked up,
 * never joined to a path). uplot is an optional peer dependency: missing, the page says what to
 * install and shows the numbers without charts.
 */
export async function chartAsset(name: string): Promise<{ body: Buffer; type: string } | 'missing' | undefined> {
  const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined
  if (file === undefined) return undefined
  let path: string
  try {
    path = createRequire(import.meta.url).resolve(file.path)
  } catch {
    return 'missing'
  }
  return { body: await readFile(path), type: file.type }
}
