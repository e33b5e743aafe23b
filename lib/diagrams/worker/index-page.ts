/**
 * The index page of the diagrams, `<prefix>index.html`, rewritten when a diagram changed: one card per account and
 * region with its latest image, when it last changed, and links to its JSON, SVG, PNG and earlier versions. Pure: the records in, the HTML out. Every
 * link is relative to the page, so the prefix can be synced to a folder, or served, as it is.
 */
import { TargetRecord } from './plan';

export interface IndexOptions {
  /** The key prefix the page is written under ("" or ending in "/"): keys are made relative to it. */
  readonly prefix: string;
  readonly generatedAt: number;
}

export function renderIndex(records: TargetRecord[], options: IndexOptions): string {
  const sorted = [...records].sort((a, b) => compare(a.accountId, b.accountId) || compare(a.region, b.region));
  const relative = (key: string) => (key.startsWith(options.prefix) ? key.slice(options.prefix.length) : key).split('/').map(encodeURIComponent).join('/');
  const cards = sorted.map(record => {
    const title = `${record.accountId} · ${record.region}`;
    const keys = record.keys ?? {};
    const image = keys.png ?? keys.svg;
    const latest = (format: string) => `${record.accountId}/${record.region}/latest.${format}`;
    const figure = image
      ? `<a href="${attr(latest(image === keys.png ? 'png' : 'svg'))}"><img src="${attr(latest(image === keys.png ? 'png' : 'svg'))}" alt="${attr(`Cloudcraft diagram of ${title}`)}" loading="lazy"></a>`
      : '<p class="empty">No image yet.</p>';
    const links = Object.keys(keys).sort().map(f => `<a href="${attr(latest(f))}">${text(f.toUpperCase())}</a>`).join(' ');
    const earlier = (record.history ?? []).map(version => `<li>${time(version.at)} ${Object.keys(version.keys).sort()
      .map(f => `<a href="${attr(relative(version.keys[f]))}">${text(f.toUpperCase())}</a>`).join(' ')}</li>`).join('');
    return [
      `<article class="card" data-account="${attr(record.accountId)}" data-region="${attr(record.region)}">`,
      `<h2>${text(title)}</h2>`,
      figure,
      `<p>Last changed: ${record.changedAt !== undefined ? time(record.changedAt) : 'never'}</p>`,
      links ? `<p class="links">${links}</p>` : '',
      earlier ? `<details><summary>Earlier versions</summary><ul>${earlier}</ul></details>` : '',
      record.blueprint?.divergedAt !== undefined
        ? `<p class="error">Blueprint diverged: edited in Cloudcraft ${time(record.blueprint.divergedAt)}; left as it is.</p>` : '',
      record.lastError ? `<p class="error">${text(record.lastError)}</p>` : '',
      '</article>',
    ].filter(Boolean).join('\n');
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cloudcraft diagrams</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f7f9; color: #1d232b; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }
.card { background: #fff; border-radius: 8px; padding: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
.card h2 { font-size: 1rem; margin: 0 0 .5rem; }
.card img { width: 100%; height: auto; border: 1px solid #dde1e6; }
.error { color: #a4262c; }
</style>
</head>
<body>
<h1>Cloudcraft diagrams</h1>
<p>${sorted.length} account-regions; written ${time(options.generatedAt)} by cdk-cloudcraft.</p>
<main>
${cards.join('\n')}
</main>
</body>
</html>
`;
}

function time(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC')}</time>`;
}

function text(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(value: string): string {
  return text(value).replace(/"/g, '&quot;');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
