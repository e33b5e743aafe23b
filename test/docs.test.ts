/**
 * The user documentation stays true to the code: the README is a guide of at most 15 KB, the generated table of
 * denied data reads matches the list in code, numbers the README quotes come from the code, every relative link
 * and anchor resolves, and every standalone template the README names is in assets/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DENIED_DATA_READS } from '../lib/role/data-read-deny';
import { ROLE_DOC, withDeniedReads } from '../tools/docs';

const ROOT = path.join(__dirname, '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');
const DOCS = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter(f => f.endsWith('.md')).map(f => `docs/${f}`)];

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens; plus explicit HTML ids. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const line of markdown.split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) found.add(heading[1].replace(/<[^>]*>/g, '').trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
    for (const id of line.matchAll(/\bid="([^"]+)"/g)) found.add(id[1]);
  }
  return found;
}

test('the README is a user guide of at most 15 KB', () => {
  expect(Buffer.byteLength(read('README.md'))).toBeLessThanOrEqual(15 * 1024);
});

test('the README\'s first command is the test command CI runs', () => {
  const firstCommand = /```sh\n(?:#.*\n)*([^#\n].*)\n/.exec(read('README.md'))![1];
  expect(firstCommand).toBe('npm ci && npx projen build');
  expect(read('.ci/run')).toContain('npx projen build');
});

test('the table of denied data reads in docs/role.md is generated from lib/role/data-read-deny.ts', () => {
  const doc = fs.readFileSync(ROLE_DOC, 'utf8');
  // Out of date: run `npx projen docs`.
  expect(doc).toBe(withDeniedReads(doc));
  for (const denied of DENIED_DATA_READS) expect(doc).toContain(`| \`${denied.action}\` | ${denied.reason} |`);
});

test('the number of denied actions the README quotes is the length of the list in code', () => {
  const quoted = /(\d+) actions denied/.exec(read('README.md'));
  expect(quoted).not.toBeNull();
  expect(Number(quoted![1])).toBe(DENIED_DATA_READS.length);
});

test('every relative link of the README, CONTRIBUTING.md and docs/ resolves, anchors included', () => {
  const links = DOCS.flatMap(file => [...read(file).matchAll(/\]\(([^)\s]+)\)/g)]
    .map(m => ({ file, link: m[1] })).filter(l => !/^[a-z]+:/.test(l.link)));
  expect(links.length).toBeGreaterThan(20);
  for (const { file, link } of links) {
    const [target, anchor] = link.split('#');
    const resolved = target ? path.join(path.dirname(path.join(ROOT, file)), target) : path.join(ROOT, file);
    expect({ link, exists: fs.existsSync(resolved) }).toEqual({ link, exists: true });
    if (anchor && resolved.endsWith('.md')) {
      expect({ link, anchor: anchors(fs.readFileSync(resolved, 'utf8')).has(anchor) }).toEqual({ link, anchor: true });
    }
  }
});

test('every standalone template the docs name is shipped in assets/', () => {
  const named = new Set(DOCS.flatMap(file => [...read(file).matchAll(/cloudcraft-[a-z]+\.template\.json/g)].map(m => m[0])));
  expect(named.size).toBeGreaterThanOrEqual(3);
  for (const template of named) expect({ template, shipped: fs.existsSync(path.join(ROOT, 'assets', template)) }).toEqual({ template, shipped: true });
});

test('a template the docs deploy with --template-file and no --s3-bucket is within the 51,200 bytes CloudFormation takes inline', () => {
  const commands = DOCS.flatMap(file => [...read(file).matchAll(/aws cloudformation deploy[^`]*?(?=\n\n|```)/g)].map(m => ({ file, command: m[0] })));
  expect(commands.length).toBeGreaterThanOrEqual(2);
  for (const { file, command } of commands) {
    const template = /--template-file node_modules\/cdk-cloudcraft\/assets\/([\w.-]+)/.exec(command)?.[1];
    expect({ file, template }).toEqual({ file, template: expect.any(String) });
    const bytes = fs.statSync(path.join(ROOT, 'assets', template!)).size;
    if (!command.includes('--s3-bucket')) expect({ template, bytes, inline: bytes <= 51_200 }).toEqual({ template, bytes, inline: true });
  }
});

/** Every file under lib/, as one text: the reasons the Lambda code gives are written there. */
function libText(dir = path.join(ROOT, 'lib')): string {
  return fs.readdirSync(dir, { withFileTypes: true }).map(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return libText(full);
    return entry.name.endsWith('.ts') ? fs.readFileSync(full, 'utf8') : '';
  }).join('\n');
}

test.each(['README.md', 'docs/troubleshooting.md'])('every failure reason %s quotes is one the code gives', (file) => {
  const code = libText();
  // The first column of the reason tables: code spans whose "..." and "<...>" stand for what varies.
  const text = read(file);
  const section = file === 'README.md' ? text.slice(text.indexOf('## Troubleshooting'), text.indexOf('\n## ', text.indexOf('## Troubleshooting') + 1)) : text;
  const rows = section.split('\n').filter(line => /^\| `/.test(line) && !/^\| `(unregisteredAlarm|cdk destroy)`/.test(line));
  expect(rows.length).toBeGreaterThanOrEqual(7);
  const fragments = rows.flatMap(row => [...row.split(' | ')[0].matchAll(/`([^`]+)`/g)].map(m => m[1]))
    .flatMap(quoted => quoted.split(/\.\.\.|<[^>]+>|\(\d{3}|\d{3}\)|5xx|: /))
    .map(f => f.replace(/^[\s:(]+|[\s:)]+$/g, '').replace(/"$/, '')).filter(f => f.length >= 6);
  for (const fragment of fragments) expect({ fragment, inCode: code.includes(fragment) }).toEqual({ fragment, inCode: true });
});
