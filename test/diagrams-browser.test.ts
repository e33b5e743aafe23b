/**
 * The diagrams' index page in a real browser: Debian's chromium (installed by the test task, tools/install-browser.js)
 * driven by playwright-core. A round of the diagram work writes its objects (the emulator renders real PNGs and SVGs);
 * they are served as S3 holds them, under the prefix, on 127.0.0.1; every card's image must load, and a screenshot is
 * taken. A missing browser fails the test: nothing is skipped.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { ACCOUNTS, world } from './support/diagram-world';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json' };

test('every card of the index page shows its latest image in Chromium, and a screenshot is taken', async () => {
  expect({ chromium: CHROMIUM, installed: fs.existsSync(CHROMIUM) }).toEqual({ chromium: CHROMIUM, installed: true });
  const w = world();
  await w.run('schedule');
  await w.clock.advance(86_400_000);
  w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'fn-9', type: 'lambda' }]);
  await w.run('schedule');

  // The bucket's objects under the prefix, served as S3 would serve them (its content types).
  const server = http.createServer((req, res) => {
    const key = `diagrams/${decodeURIComponent((req.url ?? '/').split('?')[0].slice(1))}`;
    const object = w.io.objects.get(key);
    if (!object) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': object.contentType ?? CONTENT_TYPES[path.extname(key)] });
    res.end(object.body);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const shot = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcraft-index-')), 'index.png');
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const response = await page.goto(`${base}/index.html`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    const cards = await page.$$eval('article.card', articles => articles.map(a => {
      const img = a.querySelector('img');
      return {
        account: a.getAttribute('data-account'),
        region: a.getAttribute('data-region'),
        src: img?.getAttribute('src'),
        loaded: !!img && img.complete && img.naturalWidth > 0,
        earlier: a.querySelectorAll('details li').length,
      };
    }));
    expect(cards).toHaveLength(4);
    for (const card of cards) expect(card).toMatchObject({ src: `${card.account}/${card.region}/latest.png`, loaded: true });
    expect(cards.find(c => c.account === ACCOUNTS[0] && c.region === 'eu-west-1')!.earlier).toBe(1);
    // Every link of the page resolves to an object.
    const hrefs = await page.$$eval('a[href]', links => links.map(l => l.getAttribute('href') ?? ''));
    expect(hrefs.length).toBeGreaterThan(12);
    for (const href of hrefs) expect({ href, status: (await page.request.get(new URL(href, `${base}/`).href)).status() }).toEqual({ href, status: 200 });
    await page.screenshot({ path: shot, fullPage: true });
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.length).toBeGreaterThan(5_000);
  } finally {
    await browser.close();
    server.close();
    fs.rmSync(path.dirname(shot), { recursive: true, force: true });
  }
});
