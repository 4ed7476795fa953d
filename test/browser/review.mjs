// Opens a report URL in Debian's headless Chromium, checks the rendered text, saves a
// screenshot, clicks "Request review" and checks the confirmation.
// usage: node review.mjs URL SCREENSHOT.png EXPECTED_TEXT...
import { chromium } from 'playwright-core';

const [url, shot, ...expected] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const response = await page.goto(url);
  if (response.status() !== 200) throw new Error(`status ${response.status()}`);
  const text = await page.innerText('body');
  for (const e of expected) {
    if (!text.includes(e)) throw new Error(`page does not show "${e}":\n${text}`);
  }
  await page.screenshot({ path: shot, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('text=Request review')]);
  const after = await page.innerText('body');
  if (!after.includes('Review requested')) throw new Error(`no confirmation:\n${after}`);
  await page.screenshot({ path: shot.replace(/\.png$/, '-requested.png'), fullPage: true });
  console.log('browser: report shown, review requested');
} finally {
  await browser.close();
}
