#!/usr/bin/env node
// Opens a bpfspy flame graph SVG in headless Chromium and uses it as a person would:
// hovers a frame, clicks it to zoom, types in the search box, and takes a screenshot.
//
//   node flamegraph.mjs FILE.svg FRAME_NAME SEARCH_TERM [OUT.png]
//
// Prints one line of JSON: what the page showed at each step. Exit 0 if every step
// could be performed, 1 if one could not (the JSON says which), 2 for usage errors.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'

const [svgPath, frameName, searchTerm, pngPath] = process.argv.slice(2)
if (!svgPath || !frameName || !searchTerm) {
  console.error('usage: node flamegraph.mjs FILE.svg FRAME_NAME SEARCH_TERM [OUT.png]')
  process.exit(2)
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const result = { ok: false }
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfspy-e2e-'))
let context

// The <g class="f"> whose title starts with name, as a locator.
function frameLocator(page, name) {
  return page.locator('g.f').filter({
    has: page.locator('title', { hasText: new RegExp('^' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(\\n|$)') }),
  }).first()
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-unsafe-swiftshader', '--disable-dev-shm-usage'],
    deviceScaleFactor: 1,
  })
  const page = context.pages()[0] || await context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(String(e)))
  const requests = []
  page.on('request', r => { if (!r.url().startsWith('file:')) requests.push(r.url()) })
  await page.goto('file://' + path.resolve(svgPath))
  result.title = await page.locator('#title').textContent()
  result.subtitle = await page.locator('#subtitle').textContent()

  const frame = frameLocator(page, frameName)
  result.step = 'hover'
  await frame.locator('rect').hover()
  await page.locator('#tooltip').waitFor({ state: 'visible', timeout: 5000 })
  result.tooltip = await page.locator('#tooltip text tspan').allTextContents()
  result.details = await page.locator('#details').textContent()
  result.frameValue = Number(await frame.getAttribute('data-v'))
  result.widthBefore = Number(await frame.locator('rect').getAttribute('width'))

  result.step = 'zoom'
  await frame.locator('rect').click()
  result.widthAfter = Number(await frame.locator('rect').getAttribute('width'))
  result.xAfter = Number(await frame.locator('rect').getAttribute('x'))
  result.resetVisible = await page.locator('#reset').isVisible()
  await page.locator('#reset').click()
  result.widthReset = Number(await frame.locator('rect').getAttribute('width'))

  result.step = 'search'
  await page.locator('#search').fill(searchTerm)
  result.matched = await page.locator('#matched').textContent()
  result.highlighted = await page.locator('g.f rect[fill="#e040fb"]').count()

  if (pngPath) {
    fs.mkdirSync(path.dirname(path.resolve(pngPath)), { recursive: true })
    // the whole drawing: the viewport grows to the SVG's height (fullPage hangs on SVG documents)
    const height = Number(await page.locator('svg').first().getAttribute('height'))
    await page.setViewportSize({ width: 1200, height: Math.min(Math.max(height, 200), 4000) })
    await page.screenshot({ path: pngPath, type: 'png', fullPage: false, timeout: 60000 })
    result.png = pngPath
  }
  result.pageErrors = errors
  result.externalRequests = requests
  result.step = 'done'
  result.ok = true
} catch (e) {
  result.error = String(e.message || e).split('\n')[0]
} finally {
  if (context) await context.close().catch(() => {})
  fs.rmSync(userDataDir, { recursive: true, force: true })
}
console.log(JSON.stringify(result))
process.exit(result.ok ? 0 : 1)
