// Opens report pages in Debian's headless Chromium (one browser, one tab) at a phone's and a
// desktop's width, checks each for its guidance text and that nothing needs sideways
// scrolling, saves full-page screenshots, then requests a review with the customer's text.
// usage: node pages.mjs SPEC.json
//   SPEC: { "artifacts": DIR, "widths": [390, 1280],
//           "pages": [ { "name": N, "url": U, "expect": [TEXT...] } ],
//           "review": { "name": N, "url": U, "text": T, "expect": [TEXT...] } }
// Screenshots: DIR/N-WIDTH.png, and DIR/N-requested-390.png after the review request.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function open(page, url, expect, what) {
  const response = await page.goto(url);
  if (response.status() !== 200) throw new Error(`${what}: status ${response.status()}`);
  const text = await page.innerText('body');
  for (const e of expect) {
    if (!text.includes(e)) throw new Error(`${what} does not show "${e}":\n${text}`);
  }
}

try {
  const page = await browser.newPage();
  for (const width of spec.widths) {
    await page.setViewportSize({ width, height: 900 });
    for (const p of spec.pages) {
      await open(page, p.url, p.expect, `${p.name} at ${width}px`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      if (wide > width) throw new Error(`${p.name} at ${width}px is ${wide}px wide`);
      await page.screenshot({ path: `${spec.artifacts}/${p.name}-${width}.png`, fullPage: true });
    }
  }
  const r = spec.review;
  await page.setViewportSize({ width: 390, height: 900 });
  await open(page, r.url, [], r.name);
  await page.fill('#text', r.text);
  await Promise.all([page.waitForNavigation(), page.click('text=Request review')]);
  const after = await page.innerText('body');
  for (const e of r.expect) {
    if (!after.includes(e)) throw new Error(`after the review request, no "${e}":\n${after}`);
  }
  await page.screenshot({ path: `${spec.artifacts}/${r.name}-requested-390.png`, fullPage: true });
  console.log(`browser: ${spec.pages.length} pages at ${spec.widths.join(' and ')} px, review requested`);
} finally {
  await browser.close();
}
