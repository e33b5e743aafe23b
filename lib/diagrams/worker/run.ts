/**
 * One invocation of the diagram work: take the lease, open a round (the user's schedule) or continue the open one (a
 * tick), and work the due targets, a few at a time, until the round is done or the deadline comes. The decisions
 * are in plan.ts; this file only carries them out. Time, HTTP and AWS I/O are injected.
 */
import { BlueprintMode } from './blueprint-plan';
import { BlueprintWriter } from './blueprint-writer';
import { DATED_COPY_TAG, DIAGRAM_CHANGED } from './contract';
import { renderIndex } from './index-page';
import {
  afterAnnounce, afterAnnounceFailed, afterDelay, afterError, afterImage, afterJson, afterRefusal, classifySnapshot, Next, nextStep,
  PendingChange, Target, TargetRecord, workOrder,
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
  /** One machine-owned blueprint per account-region, and what is done when a person edited it; none when absent. */
  readonly blueprints?: BlueprintMode;
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
  /** Blueprints written, and found edited by someone else (left alone, or forked). */
  readonly blueprints: number;
  readonly diverged: number;
  readonly processing: number;
  readonly failed: number;
  readonly left: number;
  readonly finished: boolean;
  readonly calls: number;
  readonly error?: string;
}

const ROUND = 'meta#round';
const ROUND_REQUEST = 'meta#round-request';
/** A schedule event this soon after the one that opened the round is the same one, delivered again. */
const DUPLICATE_SCHEDULE_MS = 60_000;

/** A round asked for by the schedule. */
interface RoundRequest {
  readonly at: number;
}
const LEASE = 'meta#lease';
const TARGET = 'target#';
/** A lease outlives the longest invocation (15 minutes), so a run is never overlapped; a run that died frees it then. */
export const DIAGRAM_LEASE_MS = 16 * 60_000;
/** A snapshot request's timeout: its long poll (120 s) and a margin. */
export const SNAPSHOT_CALL_MS = 125_000;
/**
 * No snapshot request is started with less than this left. One started later than `SNAPSHOT_CALL_MS` before the
 * deadline is cut short if Cloudcraft holds it; the scan goes on there, and the cut does not count as a poll. Waiting
 * for the whole long poll instead would leave two of every fifteen minutes unused.
 */
export const SNAPSHOT_MIN_START_MS = 15_000;

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
  private readonly counts = { snapshots: 0, unchanged: 0, changed: 0, images: 0, announced: 0, blueprints: 0, diverged: 0, processing: 0, failed: 0 };
  private readonly blueprintWriter?: BlueprintWriter;
  private stopReason?: string;
  /** Set when the deadline leaves no room for another request. */
  private outOfTime = false;
  /** Targets left for the next tick (a change EventBridge did not take). */
  private readonly skipped = new Set<{ current: TargetRecord }>();

  constructor(private readonly deps: DiagramRunDeps) {
    const mode = deps.settings.blueprints;
    if (mode) {
      this.blueprintWriter = new BlueprintWriter({
        client: deps.client, clock: deps.clock, mode, getObject: key => deps.io.getObject(key), base: record => this.base(record),
      });
    }
  }

  /** The next step for a record (blueprints included when the option is on). */
  private next(record: TargetRecord, round: number, now: number) {
    return nextStep(record, round, now, this.blueprintWriter !== undefined);
  }

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
      blueprints: 0,
      diverged: 0,
      processing: 0,
      failed: 0,
      left: 0,
      finished: false,
      calls: 0,
    };
    // The schedule asks for a round without the lease (a plain write of its own item): a tick that holds the lease
    // does not make it lost; the holder's next invocation opens it.
    if (trigger === 'schedule') await io.put(ROUND_REQUEST, { at: clock.now() } satisfies RoundRequest);
    if (!(await this.takeLease())) {
      return { ...empty, skipped: trigger === 'schedule' ? 'another invocation holds the lease: the next tick opens the round' : 'another invocation holds the lease' };
    }
    try {
      let round = (await io.get(ROUND))?.data as RoundRecord | undefined;
      const request = (await io.get(ROUND_REQUEST))?.data as RoundRequest | undefined;
      // A schedule event delivered twice (EventBridge delivers at least once) opens one round.
      if (request?.at !== undefined && (round === undefined || request.at >= round.id + DUPLICATE_SCHEDULE_MS)) {
        round = { id: request.at };
        await io.put(ROUND, round);
      }
      if (!round || round.finishedAt !== undefined) return { ...empty, skipped: 'no round open' };
      const records = await this.records();
      await this.work(records, round.id);
      const left = records.filter(r => this.next(r.current, round!.id, Infinity).kind !== 'done').length;
      const finished = left === 0 && !this.stopReason;
      // Rewritten when a diagram changed (a day with no change writes nothing).
      if (this.counts.changed > 0 || this.counts.images > 0) await this.writeIndex(records.map(r => r.current));
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

  /** `<prefix>index.html`, from the records as this invocation leaves them. A failure is logged: the next one writes it. */
  private async writeIndex(records: TargetRecord[]): Promise<void> {
    try {
      const html = renderIndex(records, { prefix: this.deps.settings.prefix, generatedAt: this.deps.clock.now() });
      await this.deps.io.putObject(`${this.deps.settings.prefix}index.html`, html, 'text/html; charset=utf-8', {});
    } catch (err) {
      this.deps.log('error', 'the index page could not be written', { error: String((err as Error)?.message ?? err).slice(0, 300) });
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
    const slots = new Map(records.map(r => [r.current, r]));
    const queue = workOrder(records.map(r => r.current)).map(current => slots.get(current)!);
    const worker = async () => {
      for (;;) {
        if (this.stopReason || this.outOfTime || this.deps.client.remaining() < SNAPSHOT_MIN_START_MS) return;
        const now = this.deps.clock.now();
        const index = queue.findIndex(r => !this.skipped.has(r) && ['fetch', 'announce', 'blueprint'].includes(this.next(r.current, round, now).kind));
        if (index < 0) return;
        const [slot] = queue.splice(index, 1);
        try {
          await this.step(slot, round);
        } catch (err) {
          // This function's own I/O failed (S3, DynamoDB): this target only, and not again in this invocation.
          await this.failed(slot, round, err);
        }
        // Not done: back in the queue (an image to render, or a 202 to poll again later).
        if (this.next(slot.current, round, Infinity).kind !== 'done') queue.push(slot);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.settings.concurrency) }, worker));
  }

  private async failed(slot: { current: TargetRecord }, round: number, err: unknown): Promise<void> {
    this.counts.failed++;
    this.skipped.add(slot);
    const reason = `${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}`;
    const { accountId, region } = slot.current;
    this.deps.log('error', 'the diagram could not be kept: taken up again by the next invocation', { account: accountId, region, error: reason });
    try {
      await this.save(slot, afterError(slot.current, round, reason));
    } catch {
      // The state table failed too: the record stays as it was, and the target is taken up again.
    }
  }

  /** One request for a target, and what follows from its answer. */
  private async step(slot: { current: TargetRecord }, round: number): Promise<void> {
    const { clock, log, settings } = this.deps;
    const record = slot.current;
    const step = this.next(record, round, clock.now());
    if (step.kind === 'announce') {
      await this.announce(slot, record.announce!);
      return;
    }
    if (step.kind === 'blueprint') {
      await this.blueprint(slot);
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
      // The deadline comes before the request could be sent (pacing's wait included): no worker starts another one;
      // the next tick takes them up.
      if (err instanceof CloudcraftError) {
        this.outOfTime = true;
        return;
      }
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
          + 'Cloudcraft does not accept the API key. The run stopped (requests already in flight end); the next round tries again. Store a current key.';
        return;
      case 'gone':
        this.counts.failed++;
        next = afterRefusal(record, round, format, format === 'json'
          ? `Cloudcraft has no registration ${record.registrationId} (404): the account is no longer connected; skipped`
          : `Cloudcraft answered 404 for the ${format} image of registration ${record.registrationId}: the change is kept without it`);
        break;
      case 'refused':
        this.counts.failed++;
        log('error', 'snapshot refused', { ...target, reason: answer.reason });
        next = afterRefusal(record, round, format, format === 'json'
          ? `${answer.reason} for the region ${record.region}: check the regions given to CloudcraftDiagrams`
          : `${answer.reason}: check the rendering options given to CloudcraftDiagrams; the change is kept without this format`);
        break;
      case 'processing':
      case 'transient':
        this.counts.processing++;
        if (outcome.kind === 'network' && outcome.cause === 'timeout' && now - (this.deps.client.lastSentAt ?? now) < SNAPSHOT_CALL_MS - 2_000) {
          // Cut short by this invocation's deadline, not Cloudcraft's answer: no poll counted; the next tick asks again.
          next = { record: { ...record, nextAt: now }, effects: [] };
          break;
        }
        next = afterDelay(record, round, now, format, answer.kind === 'processing' ? 'Cloudcraft was still processing' : answer.reason);
        if (next.record.round === round && !next.record.pending) this.counts.failed++;
        break;
      case 'json': {
        this.counts.snapshots++;
        const hash = diagramHash(answer.diagram);
        if (hash === record.hash && !record.pending) {
          this.counts.unchanged++;
          next = afterJson(record, round, now, hash, settings.formats, f => this.key(record, now, f), { added: {}, removed: {} }, answer.diagram);
          break;
        }
        this.counts.changed++;
        // What changed, against the latest version written (a dated copy may have expired); absent the first time.
        const previous = record.hash ? await this.deps.io.getObject(`${this.base(record)}latest.json`) : undefined;
        const before = previous !== undefined ? unwrapSnapshot(parseOrUndefined(previous)) : undefined;
        const change = diagramChange(before, answer.diagram);
        next = afterJson(record, round, now, hash, settings.formats, f => this.key(record, now, f), change, answer.diagram);
        break;
      }
      case 'image':
        this.counts.images++;
        await this.writeVersion(record, record.pending!, format, answer.bytes);
        next = afterImage(record, round, format, record.pending!.keys.json.replace(/\.json$/, `.${format}`));
        break;
    }
    for (const effect of next.effects) {
      // The diagram as it is, unwrapped: the same shape whichever way Cloudcraft sent it.
      if (effect.kind === 'write-json') await this.writeVersion(record, effect.change, 'json', JSON.stringify(effect.diagram));
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
      'registration-id': asciiMetadata(record.registrationId),
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
      const reason = String((err as Error)?.message ?? err).slice(0, 300);
      const next = afterAnnounceFailed(record, reason);
      this.deps.log('error', next.announce ? 'change not announced: put again by the next tick' : 'change not announced: given up', {
        account: record.accountId, region: record.region, error: reason,
      });
      // Not again in this invocation.
      this.skipped.add(slot);
      await this.save(slot, next);
      return;
    }
    this.counts.announced++;
    await this.save(slot, afterAnnounce(record));
  }

  /** One blueprint step; a failed one is not tried again in this invocation. */
  private async blueprint(slot: { current: TargetRecord }): Promise<void> {
    const record = slot.current;
    const result = await this.blueprintWriter!.step(record);
    if (result.kind === 'out-of-time') {
      this.outOfTime = true;
      return;
    }
    if (result.kind === 'unauthorized') {
      this.stopReason ??= `${result.reason} while writing the blueprint of account ${record.accountId} in ${record.region}: `
        + 'Cloudcraft does not accept the API key. The run stopped; the next round tries again. Store a current key.';
      return;
    }
    const where = { account: record.accountId, region: record.region, blueprint: result.blueprint.id };
    if (result.event === 'written') this.counts.blueprints++;
    if (result.event === 'diverged' || result.event === 'forked') {
      this.counts.diverged++;
      this.deps.log('warn', result.event === 'diverged'
        ? 'blueprint diverged: someone edited it in Cloudcraft; left as it is (the blueprints option says what to do instead)'
        : 'blueprint edited by someone: left to them, and a new one is made from the diagram', { ...where, left: result.blueprint.left?.[0] });
    }
    if (result.event === 'failed') {
      this.counts.failed++;
      this.skipped.add(slot);
      this.deps.log('warn', 'blueprint not written: tried again by the next invocation', { ...where, error: result.blueprint.lastError });
    }
    await this.save(slot, { ...record, blueprint: result.blueprint });
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

/** S3 user metadata is US-ASCII: anything else is percent-encoded (Cloudcraft's ids are opaque strings). */
function asciiMetadata(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
