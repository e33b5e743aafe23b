/**
 * The diagram work's state table, S3 and EventBridge in memory (`DiagramIo`), and a pacing record in memory: for the
 * scenario tests and the benchmark. test/diagrams-handler.test.ts holds the real adapter (lib/diagrams/worker/aws.ts)
 * to the same answers against dynalite and local S3 and EventBridge stand-ins.
 */
import { DiagramIo } from '../../lib/diagrams/worker/run';
import { StoredItem } from '../../lib/runtime/items';
import { PacerState } from '../../lib/runtime/pacer';
import { PacingStore } from '../../lib/runtime/pacing';

export class MemoryDiagramIo implements DiagramIo {
  readonly items = new Map<string, { data: unknown; version: number }>();
  readonly objects = new Map<string, { body: Buffer; contentType: string; metadata: Record<string, string>; tags?: Record<string, string> }>();
  readonly events: Array<{ detailType: string; detail: Record<string, unknown> }> = [];
  puts = 0;
  /** Fail the next N PutEvents. */
  failEvents = 0;

  async scan(prefix: string): Promise<StoredItem[]> {
    return [...this.items].filter(([pk]) => pk.startsWith(prefix)).map(([pk, v]) => ({ pk, data: clone(v.data), version: v.version }));
  }

  async get(pk: string): Promise<StoredItem | undefined> {
    const v = this.items.get(pk);
    return v && { pk, data: clone(v.data), version: v.version };
  }

  async put(pk: string, data: unknown, expected?: number): Promise<boolean> {
    const current = this.items.get(pk)?.version ?? 0;
    if (expected !== undefined && current !== expected) return false;
    this.items.set(pk, { data: clone(data), version: current + 1 });
    return true;
  }

  async putObject(key: string, body: Uint8Array | string, contentType: string, metadata: Record<string, string>,
    tags?: Record<string, string>): Promise<void> {
    this.puts++;
    this.objects.set(key, { body: Buffer.from(body), contentType, metadata, ...(tags ? { tags } : {}) });
  }

  async getObject(key: string): Promise<string | undefined> {
    return this.objects.get(key)?.body.toString('utf8');
  }

  async putEvent(detailType: string, detail: Record<string, unknown>): Promise<void> {
    if (this.failEvents > 0) {
      this.failEvents--;
      throw new Error('EventBridge did not put the event: InternalFailure');
    }
    this.events.push({ detailType, detail });
  }
}

/** One record of the key's pacing, in memory, with compare-and-swap. */
export class MemoryPacingStore implements PacingStore {
  private stored: { state?: PacerState; version?: number } = {};

  async read() {
    return clone(this.stored);
  }

  async write(state: PacerState, version: number | undefined): Promise<boolean> {
    if (this.stored.version !== version) return false;
    this.stored = { state: clone(state), version: (version ?? 0) + 1 };
    return true;
  }

  /** The state as stored (for figures). */
  get state(): PacerState | undefined {
    return this.stored.state;
  }
}

function clone<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}
