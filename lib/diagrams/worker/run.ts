/**
 * One invocation of the diagram work: take the lease, open a round (the user's schedule) or continue the open one (a
 * tick), and work the due targets, a few at a time, until the round is done or the deadline comes. The decisions
 * are in plan.ts; this file only carries them out. Time, HTTP and AWS I/O are injected.
 */
import { DATED_COPY_TAG, DIAGRAM_CHANGED } from './contract';
import {
  afterAnnounce, afterDelay, afterImage, afterJson, afterRefusal, classifySnapshot, Next, nextStep, PendingChange, Target, TargetRecord, workOrder,
} from './plan';
import { Clock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError, Log } from '../../runtime/cloudcraft';
import { StoredItem } from '../../runtime/items';
import { diagramChange, diagramHash, unwrapSnapshot } from '../../runtime/snapshot';

export { DIAGRAM_CHANGED };

/** The state table (records, round, lease), S3 and EventBridge: thin, swappable. */
export interface DiagramIo {
  scan(prefix: string): Promise<StoredItem[]>;
  get(pk: string): Promise<StoredItem | undefined>;
  /** With `expected`: only while the item's version is still that (0: no item); false when another wrote first. */
  put(pk: string, data: unknown, expected?: number): Promise<boolean>;
  /** Writes an object; `tags` as S3 object tags (a dated copy's, which the lifecycle rule expires). */
  putObject(key: string, body: Uint8Array | string, contentType: string, metadata: Record<string, string>,
    tags?: Record<string, string>): Promise<void>;
  /** The object's text; undefined when there is none. */
  getObject(key: string): Promise<string | undefined>;
  putEvent(detailType: string, detail: Record<string, unknown>): Promise<void>;
}

export interface DiagramSettings {
  readonly regions: string[];
  /** Image formats rendered when a diagram changed (json is always taken). */
  readonly formats: string[];
  /** Cloudcraft's rendering options, as the snapshot's query string (without "?"; may be empty). */
  readonly query: string;
  /** Key prefix in the bucket: "" or ending in "/". */
  readonly prefix: string;
  /** Snapshot requests in flight at once (each may long-poll for 120 s). */
  readonly concurrency: number;
}

export interface RoundRecord {
  readonly id: number;
  readonly finishedAt?: number;
}

export interface LeaseItem {
  readonly owner?: string;
  readonly expiresAt?: number;
}

export interface DiagramSummary {
  readonly trigger: 'schedule' | 'tick';
  readonly round?: number;
  readonly skipped?: string;
  readonly targets: number;
  readonly snapshots: number;
  readonly unchanged: number;
  readonly changed: number;
  readonly images: number;
  readonly announced: number;
  readonly processing: number;
  readonly failed: number;
  readonly left: number;
  readonly finished: boolean;
  readonly calls: number;
  readonly error?: string;
}

const ROUND = 'meta#round';
const LEASE = 'meta#lease';
const TARGET = 'target#';
/** A lease outlives the longest invocation (15 minutes), so a run is never overlapped; a run that died frees it then. */
export const DIAGRAM_LEASE_MS = 16 * 60_000;
/** Least time a snapshot request needs before the deadline: its long poll (120 s) and a margin. */
export const SNAPSHOT_CALL_MS = 125_000;

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json', png: 'image/png', svg: 'image/svg+xml', pdf: 'application/pdf', mxGraph: 'application/xml',
};

export interface DiagramRunDeps {
  readonly io: DiagramIo;
  readonly client: CloudcraftClient;
  readonly clock: Clock;
  readonly log: Log;
  readonly settings: DiagramSettings;
  /** The accounts this installation connects, with their registration ids (the registrar's ledger, or the stack's). */
  readonly targets: () => Promise<Array<Omit<Target, 'region'>>>;
  readonly owner: string;
}

export function recordKey(accountId: string, region: string): string {
  return `${TARGET}${accountId}#${region}`;
}

/** `2026-12-02T151500Z`: sortable, and without characters a URL must escape. */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export class DiagramRun {
  private readonly counts = { snapshots: 0, unchanged: 0, changed: 0, images: 0, announced: 0, processing: 0, failed: 0 };
  private stopReason?: string;
  /** Targets left for the next tick (a change EventBridge did not take). */
  private readonly skipped = new Set<{ current: TargetRecord }>();

  constructor(private readonly deps: DiagramRunDeps) {}

  async run(trigger: 'schedule' | 'tick'): Promise<DiagramSummary> {
    const { io, clock } = this.deps;
    const empty = {
      trigger,
      targets: 0,
      snapshots: 0,
      unchanged: 0,
      changed: 0,
      images: 0,
      announced: 0,
      processing: 0,
      failed: 0,
      left: 0,
      finished: false,
      calls: 0,
    };
    if (!(await this.takeLease())) return { ...empty, skipped: 'another invocation holds the lease' };
    try {
      const stored = await io.get(ROUND);
      let round = stored?.data as RoundRecord | undefined;
      if (trigger === 'schedule') {
        round = { id: clock.now() };
        await io.put(ROUND, round);
      } else if (!round || round.finishedAt !== undefined) {
        return { ...empty, skipped: 'no round open' };
      }
      const records = await this.records();
      await this.work(records, round.id);
      const left = records.filter(r => nextStep(r.current, round!.id, Infinity).kind !== 'done').length;
      const finished = left === 0 && !this.stopReason;
      if (finished) await io.put(ROUND, { ...round, finishedAt: clock.now() });
      return {
        ...empty,
        ...this.counts,
        round: round.id,
        targets: records.length,
        left,
        finished,
        calls: this.deps.client.calls,
        ...(this.stopReason ? { error: this.stopReason } : {}),
      };
    } finally {
      await this.letGo();
    }
  }

  /** Every target (account x region) with its record; records of accounts no longer connected are left as they are. */
  private async records(): Promise<Array<{ current: TargetRecord }>> {
    const stored = new Map<string, TargetRecord>();
    for (const item of await this.deps.io.scan(TARGET)) stored.set(item.pk, item.data as TargetRecord);
    const accounts = await this.deps.targets();
    const out: Array<{ current: TargetRecord }> = [];
    for (const account of accounts) {
      for (const region of this.deps.settings.regions) {
        const known = stored.get(recordKey(account.accountId, region));
        // A new registration of the same account (its id changed) keeps the diagram's history.
        out.push({ current: { ...known, accountId: account.accountId, region, registrationId: account.registrationId } });
      }
    }
    return out;
  }

  private async work(records: Array<{ current: TargetRecord }>, round: number): Promise<void> {
    const order = workOrder(records.map(r => r.current));
    const queue = order.map(current => records.find(r => r.current === current)!);
    const worker = async () => {
      for (;;) {
        if (this.stopReason || this.deps.client.remaining() < SNAPSHOT_CALL_MS) return;
        const now = this.deps.clock.now();
        const index = queue.findIndex(r => !this.skipped.has(r) && ['fetch', 'announce'].includes(nextStep(r.current, round, now).kind));
        if (index < 0) return;
        const [slot] = queue.splice(index, 1);
        await this.step(slot, round);
        // Not done: back in the queue (an image to render, or a 202 to poll again later).
        if (nextStep(slot.current, round, Infinity).kind !== 'done') queue.push(slot);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.settings.concurrency) }, worker));
  }

  /** One request for a target, and what follows from its answer. */
  private async step(slot: { current: TargetRecord }, round: number): Promise<void> {
    const { clock, log, settings } = this.deps;
    const record = slot.current;
    const step = nextStep(record, round, clock.now());
    if (step.kind === 'announce') {
      await this.announce(slot, record.announce!);
      return;
    }
    if (step.kind !== 'fetch') return;
    const { format } = step;
    const query = settings.query && format !== 'json' ? `?${settings.query}` : '';
    const path = `/aws/account/${encodeURIComponent(record.registrationId)}/${encodeURIComponent(record.region)}/${format}${query}`;
    let outcome;
    try {
      outcome = await this.deps.client.attempt('snapshot', 'GET', path);
    } catch (err) {
      // The deadline came before the request could be sent: the next tick takes it up.
      if (err instanceof CloudcraftError) return;
      throw err;
    }
    const answer = classifySnapshot(outcome, format);
    const target = { account: record.accountId, region: record.region, format };
    log(answer.kind === 'transient' || answer.kind === 'refused' ? 'warn' : 'info', 'snapshot', { ...target, answer: answer.kind, status: outcome.kind === 'response' ? outcome.status : undefined });
    const now = clock.now();
    let next: Next;
    switch (answer.kind) {
      case 'unauthorized':
        this.stopReason ??= `${answer.reason} while taking the ${format} snapshot of account ${record.accountId} in ${record.region}: `
          + 'the API key cannot take snapshots. The run stopped; no other account was tried. Check the key (a current key of an Owner or Administrator).';
        return;
      case 'gone':
        this.counts.failed++;
        await this.save(slot, afterRefusal(record, round, `Cloudcraft has no registration ${record.registrationId} (404): the account is no longer connected; skipped`));
        return;
      case 'refused':
        this.counts.failed++;
        log('error', 'snapshot refused', { ...target, reason: answer.reason });
        await this.save(slot, afterRefusal(record, round, `${answer.reason} for the region ${record.region}: check the regions given to CloudcraftDiagrams`));
        return;
      case 'processing':
      case 'transient':
        this.counts.processing++;
        next = afterDelay(record, round, now, format, answer.kind === 'processing' ? 'Cloudcraft was still processing' : answer.reason);
        if (next.record.round === round && !next.record.pending) this.counts.failed++;
        break;
      case 'json': {
        this.counts.snapshots++;
        const hash = diagramHash(answer.diagram);
        if (hash === record.hash && !record.pending) {
          this.counts.unchanged++;
          next = afterJson(record, round, now, hash, settings.formats, f => this.key(record, now, f), { added: {}, removed: {} }, answer.text);
          break;
        }
        this.counts.changed++;
        const previous = record.keys?.json ? await this.deps.io.getObject(record.keys.json).catch(() => undefined) : undefined;
        const before = previous !== undefined ? unwrapSnapshot(parseOrUndefined(previous)) : undefined;
        const change = diagramChange(before, answer.diagram);
        next = afterJson(record, round, now, hash, settings.formats, f => this.key(record, now, f), change, answer.text);
        break;
      }
      case 'image':
        this.counts.images++;
        await this.writeVersion(record, record.pending!, format, answer.bytes);
        next = afterImage(record, round, format, record.pending!.keys.json.replace(/\.json$/, `.${format}`));
        break;
    }
    for (const effect of next.effects) {
      if (effect.kind === 'write-json') await this.writeVersion(record, effect.change, 'json', effect.text);
    }
    await this.save(slot, next.record);
    for (const effect of next.effects) {
      if (effect.kind === 'announce') await this.announce(slot, effect.change);
    }
  }

  /** The dated object of the pending version, and the account-region's `latest` copy. */
  private async writeVersion(record: Target, pending: PendingChange, format: string, body: Uint8Array | string): Promise<void> {
    const dated = format === 'json' ? pending.keys.json : pending.keys.json.replace(/\.json$/, `.${format}`);
    const metadata = {
      'account-id': record.accountId,
      'region': record.region,
      'registration-id': record.registrationId,
      'snapshot-time': new Date(pending.at).toISOString(),
      'hash': pending.hash,
    };
    const type = CONTENT_TYPES[format] ?? 'application/octet-stream';
    await this.deps.io.putObject(dated, body, type, metadata, { [DATED_COPY_TAG.key]: DATED_COPY_TAG.value });
    await this.deps.io.putObject(`${this.base(record)}latest.${format}`, body, type, metadata);
  }

  /**
   * Puts the change event, then forgets it; when EventBridge does not take it, it stays in the record and the next
   * tick puts it again (no Cloudcraft call): every change is announced at least once.
   */
  private async announce(slot: { current: TargetRecord }, change: PendingChange): Promise<void> {
    const record = slot.current;
    try {
      await this.deps.io.putEvent(DIAGRAM_CHANGED, this.detail(record, change));
    } catch (err) {
      this.counts.failed++;
      this.deps.log('error', 'change not announced: put again by the next tick', {
        account: record.accountId, region: record.region, error: String((err as Error)?.message ?? err).slice(0, 300),
      });
      // Not again in this invocation.
      this.skipped.add(slot);
      return;
    }
    this.counts.announced++;
    await this.save(slot, afterAnnounce(record));
  }

  private detail(record: TargetRecord, change: PendingChange): Record<string, unknown> {
    return {
      accountId: record.accountId,
      region: record.region,
      registrationId: record.registrationId,
      changedAt: new Date(change.at).toISOString(),
      hash: change.hash,
      keys: change.keys,
      previousKeys: change.previousKeys ?? {},
      added: change.change.added,
      removed: change.change.removed,
    };
  }

  private async save(slot: { current: TargetRecord }, record: TargetRecord): Promise<void> {
    slot.current = record;
    await this.deps.io.put(recordKey(record.accountId, record.region), record);
  }

  private base(record: Target): string {
    return `${this.deps.settings.prefix}${record.accountId}/${record.region}/`;
  }

  private key(record: Target, at: number, format: string): string {
    return `${this.base(record)}${stamp(at)}.${format}`;
  }

  private async takeLease(): Promise<boolean> {
    const now = this.deps.clock.now();
    const item = await this.deps.io.get(LEASE);
    const lease = (item?.data as LeaseItem | undefined) ?? {};
    if (lease.owner !== undefined && lease.owner !== this.deps.owner && (lease.expiresAt ?? 0) > now) return false;
    return this.deps.io.put(LEASE, { owner: this.deps.owner, expiresAt: now + DIAGRAM_LEASE_MS }, item?.version ?? 0);
  }

  private async letGo(): Promise<void> {
    const item = await this.deps.io.get(LEASE).catch(() => undefined);
    if ((item?.data as LeaseItem | undefined)?.owner !== this.deps.owner) return;
    await this.deps.io.put(LEASE, {}, item!.version).catch(() => undefined);
  }
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
