/**
 * Pacing as the Cloudcraft client uses it: one `Pacer` (pure) kept in this process (`localPacing`: the
 * single-account handler, which makes a few calls per event), or in a record every writer of the key reads and
 * writes (`SharedPacing`: the Organization registrar and whatever else of the same installation calls Cloudcraft
 * with its key, so that each call counts in one window). The record is written by compare-and-swap on a version: two
 * writers never lose each other's requests.
 */
import { Pacer, PacerState } from './pacer';

export interface Pacing {
  /** Milliseconds to wait before a request may be sent; 0 when it may be sent now, and it is then counted as sent. */
  take(now: number): Promise<number>;
  /** Records the answer to a request: a 429 (with Retry-After in ms when given) or any other. */
  answered(now: number, rejected: boolean, retryAfterMs?: number): Promise<void>;
  /** The wait the last known state asks for, without counting anything. */
  delay(now: number): number;
}

export function localPacing(pacer: Pacer): Pacing {
  return {
    async take(now) {
      const wait = pacer.delay(now);
      if (wait === 0) pacer.sent(now);
      return wait;
    },
    async answered(now, rejected, retryAfterMs) {
      if (rejected) pacer.rejected(now, retryAfterMs);
      else pacer.accepted(now);
    },
    delay: now => pacer.delay(now),
  };
}

/** A stored pacer state with its version (undefined: no record yet). */
export interface StoredPacing {
  readonly state?: PacerState;
  readonly version?: number;
}

export interface PacingStore {
  read(): Promise<StoredPacing>;
  /** Writes when the stored version is still `version` (undefined: no record yet); false when someone wrote first. */
  write(state: PacerState, version: number | undefined): Promise<boolean>;
}

/** Compare-and-swap attempts before giving up on one update (another writer kept winning). */
const CAS_ATTEMPTS = 8;
/** How long to wait before taking again after losing every compare-and-swap. */
const CONTENDED_WAIT_MS = 250;

export interface SharedPacingOptions {
  /** Requests a minute this caller leaves to the key's other users (the diagram work leaves them to registration). @default 0 */
  readonly reservePerMinute?: number;
}

export class SharedPacing implements Pacing {
  private last: Pacer;
  private readonly reserve: number;

  constructor(private readonly store: PacingStore, now: number, private readonly onStoreError: (err: unknown) => void = () => undefined,
    options: SharedPacingOptions = {}) {
    this.last = new Pacer(undefined, now);
    this.reserve = options.reservePerMinute ?? 0;
  }

  async take(now: number): Promise<number> {
    try {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const { state, version } = await this.store.read();
        const pacer = new Pacer(state, now);
        this.last = pacer;
        const wait = pacer.delay(now, this.reserve);
        if (wait > 0) return wait;
        pacer.sent(now);
        if (await this.store.write(pacer.snapshot(), version)) return 0;
      }
      return CONTENDED_WAIT_MS;
    } catch (err) {
      // The record cannot be read or written: this process paces on what it last knew (the others' calls unseen).
      this.onStoreError(err);
      const wait = this.last.delay(now, this.reserve);
      if (wait === 0) this.last.sent(now);
      return wait;
    }
  }

  /** Records an answer. Never throws: the bookkeeping of pacing must not change what a request did. */
  async answered(now: number, rejected: boolean, retryAfterMs?: number): Promise<void> {
    try {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const { state, version } = await this.store.read();
        const pacer = new Pacer(state, now);
        if (rejected) pacer.rejected(now, retryAfterMs);
        else pacer.accepted(now);
        this.last = pacer;
        if (await this.store.write(pacer.snapshot(), version)) return;
      }
    } catch (err) {
      this.onStoreError(err);
    }
    // Not recorded (lost every time, or the record failed): the others' writes stand, and a 429 is honoured here.
    if (rejected) this.last.rejected(now, retryAfterMs);
  }

  delay(now: number): number {
    return this.last.delay(now, this.reserve);
  }
}
