/**
 * The maintainers' task: fetches Cloudcraft's current minimal and custom IAM policies (CLOUDCRAFT_API_KEY in the
 * environment; CLOUDCRAFT_API_URL, default https://api.cloudcraft.co), refuses an unexpected one, and for each that
 * differs from the newest vendored file of its kind writes lib/role/policies/cloudcraft-<kind>-policy.<date>.json
 * and an entry at the top of docs/policy-changelog.md. It changes no TypeScript: it prints what to do next.
 */
import * as fs from 'fs';
import * as path from 'path';
import { normalizeApiUrl } from '../lib/runtime/api-url';
import { Clock, systemClock } from '../lib/runtime/clock';
import { CloudcraftClient } from '../lib/runtime/cloudcraft';
import { fetchTransport, Transport } from '../lib/runtime/http';
import { documentDrift, LivePolicy, readLivePolicy } from '../lib/runtime/live-policy';
import { Pacer } from '../lib/runtime/pacer';
import { localPacing } from '../lib/runtime/pacing';

export const POLICY_KINDS = ['minimal', 'custom'] as const;
export type PolicyKind = typeof POLICY_KINDS[number];
export const DEFAULT_API_URL = 'https://api.cloudcraft.co';
const POLICIES_DIR = path.join('lib', 'role', 'policies');
const CHANGELOG = path.join('docs', 'policy-changelog.md');
const TITLE = '# Changes of Cloudcraft\'s IAM policies';

export interface UpdatePoliciesOptions {
  readonly apiUrl: string;
  readonly apiKey: string;
  /** The repository's root: files are read from and written to its lib/role/policies/ and docs/. */
  readonly root: string;
  readonly transport: Transport;
  /** The date of new files, YYYY-MM-DD. */
  readonly today: string;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** A policy written: its file (relative to the root), the file it follows, and the changes by action. */
export interface PolicyUpdate {
  readonly kind: PolicyKind;
  readonly file: string;
  readonly previous?: string;
  readonly added: string[];
  readonly removed: string[];
  readonly reshaped: string[];
}

/** The policies written, and what to print (what changed, and what the maintainer does next). */
export interface UpdatePoliciesResult {
  readonly written: PolicyUpdate[];
  readonly messages: string[];
}

/** The newest vendored file of a kind in `root`'s lib/role/policies/ (by the date in its name), if any. */
export function newestVendored(root: string, kind: PolicyKind): string | undefined {
  const prefix = `cloudcraft-${kind}-policy.`;
  const dated = fs.readdirSync(path.join(root, POLICIES_DIR)).filter(f => f.startsWith(prefix) && f.endsWith('.json'));
  // By the date alone ('2025-01' before '2025-01-15'): the extension would sort '-' before '.'.
  return dated.map(f => f.slice(0, -'.json'.length)).sort().map(f => `${f}.json`).pop();
}

/** Fetches both policies, refuses an unexpected one (nothing is written then), writes those that changed. */
export async function updatePolicies(options: UpdatePoliciesOptions): Promise<UpdatePoliciesResult> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(options.today)) throw new Error(`today must be YYYY-MM-DD, not ${JSON.stringify(options.today)}`);
  const clock = options.clock ?? systemClock;
  const client = new CloudcraftClient({
    apiUrl: normalizeApiUrl(options.apiUrl),
    apiKey: options.apiKey,
    keySource: 'the environment variable CLOUDCRAFT_API_KEY',
    clock,
    transport: options.transport,
    pacing: localPacing(new Pacer(undefined, clock.now())),
    log: () => undefined,
    random: Math.random,
    deadlineAt: clock.now() + 120_000,
    maxAttempts: 4,
  });
  const fetched: Array<{ kind: PolicyKind; body: unknown; live: LivePolicy & { kind: 'policy' }; previous?: string; vendored?: LivePolicy & { kind: 'policy' } }> = [];
  for (const kind of POLICY_KINDS) {
    // A 200 that is not JSON ends the call (accept) and is refused below with what it was, rather than retried.
    const outcome = await client.call('policy', 'GET', `/aws/account/iamParameters/policy/${kind}`, { accept: [200] });
    const body = outcome.kind === 'response' ? outcome.body ?? outcome.text : undefined;
    const live = readLivePolicy(body);
    if (live.kind !== 'policy') throw new Error(`The ${kind} policy was not written. ${live.reason}`);
    const previous = newestVendored(options.root, kind);
    const vendored = previous ? readLivePolicy(JSON.parse(fs.readFileSync(path.join(options.root, POLICIES_DIR, previous), 'utf8'))) : undefined;
    if (vendored && vendored.kind !== 'policy') throw new Error(`The vendored ${previous} does not read as a policy: ${vendored.reason}`);
    fetched.push({ kind, body, live, previous, vendored });
  }

  const written: PolicyUpdate[] = [];
  const messages: string[] = [];
  for (const { kind, body, live, previous, vendored } of fetched) {
    if (vendored?.fingerprint === live.fingerprint) {
      messages.push(`${kind}: unchanged since ${previous}.`);
      continue;
    }
    const drift = documentDrift(vendored?.document ?? { Version: '2012-10-17', Statement: [] }, live.document);
    // The drift is lowercase; the changelog spells actions as the policies do.
    const spelling = new Map([...(vendored?.actions ?? []), ...live.actions].map(a => [a.toLowerCase(), a]));
    const spell = (actions: string[]) => actions.map(a => spelling.get(a) ?? a);
    const file = path.join(POLICIES_DIR, `cloudcraft-${kind}-policy.${options.today}.json`).split(path.sep).join('/');
    fs.writeFileSync(path.join(options.root, file), `${JSON.stringify(body, null, 2)}\n`);
    written.push({ kind, file, previous, added: spell(drift.added), removed: spell(drift.removed), reshaped: spell(drift.reshaped) });
    messages.push(`${kind}: wrote ${file} (${drift.added.length} added, ${drift.removed.length} removed, ${drift.reshaped.length} with other resources).`);
  }
  if (written.length === 0) return { written, messages };

  const changelog = path.join(options.root, CHANGELOG);
  const existing = fs.existsSync(changelog) ? fs.readFileSync(changelog, 'utf8') : `${TITLE}\n`;
  const entries = written.map(w => changelogEntry(options.today, w)).join('\n');
  // Newest first: before the first entry (after the title and its introduction).
  const first = existing.search(/^## /m);
  const head = (first < 0 ? existing : existing.slice(0, first)).replace(/\n*$/, '\n\n');
  const older = first < 0 ? '' : existing.slice(first);
  fs.mkdirSync(path.dirname(changelog), { recursive: true });
  fs.writeFileSync(changelog, `${head}${entries}${older ? `\n${older}` : ''}`);

  messages.push('Next:');
  for (const w of written) {
    messages.push(w.kind === 'minimal'
      ? `- point lib/role/minimal-policy.ts at ${path.basename(w.file)} (its import and MINIMAL_POLICY_VERSION = '${options.today}');`
      : `- point what imports ${w.previous ?? `the ${w.kind} policy`} (grep cloudcraft-${w.kind}-policy) at ${path.basename(w.file)};`);
  }
  messages.push('- review docs/policy-changelog.md, run the tests (npx projen test), and remove a replaced file once nothing imports it.');
  return { written, messages };
}

/** One changelog entry: date, kind, file, and the actions added and removed (code spans, not links). */
function changelogEntry(today: string, w: PolicyUpdate): string {
  const codes = (actions: string[]) => actions.length > 0 ? actions.map(a => `\`${a}\``).join(', ') : 'none';
  return [
    `## ${today}: ${w.kind} policy`,
    '',
    `\`${w.file}\`${w.previous ? ` (after \`${w.previous}\`)` : ''}.`,
    '',
    `- added: ${codes(w.added)}`,
    `- removed: ${codes(w.removed)}`,
    ...(w.reshaped.length > 0 ? [`- other resources: ${codes(w.reshaped)}`] : []),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const apiKey = process.env.CLOUDCRAFT_API_KEY?.trim();
  if (!apiKey) throw new Error('Set CLOUDCRAFT_API_KEY to a Cloudcraft API key (and CLOUDCRAFT_API_URL for another API than Cloudcraft\'s).');
  const result = await updatePolicies({
    apiUrl: process.env.CLOUDCRAFT_API_URL?.trim() || DEFAULT_API_URL,
    apiKey,
    root: path.join(__dirname, '..'),
    transport: fetchTransport(),
    today: new Date().toISOString().slice(0, 10),
  });
  for (const line of result.messages) process.stdout.write(`${line}\n`);
}

if (require.main === module) {
  main().catch(err => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
