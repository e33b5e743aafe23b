/**
 * The pacer of one Cloudcraft API key: when the next request may be sent. Pure: time is passed in.
 *
 * Cloudcraft documents two limits for a key (cloudcraft-api.md): 20 requests per 10 s (API reference, with 429 and
 * Retry-After) and 20 requests per minute (FAQ: "wait 60 s after a 429"). Whether rejected requests count is not
 * said. The pacer handles both readings:
 * - it starts at the documented limit, 20 requests in any 10 s (sliding window, with a small margin for latency);
 * - a 429 blocks every request until Retry-After has passed (60 s without the header), and when it came while the
 *   10 s window had room, the stricter reading holds: it adds the 20-per-60 s window (every request sent counts,
 *   accepted or not, so the window is right whether or not Cloudcraft counts rejected ones);
 * - a 429 while already strict is another limit, or another writer of the same key: multiplicative decrease of the
 *   60 s budget (x 0.7);
 * - additive increase: +1 to the 60 s budget for every `increaseEveryMs` without a 429, and after `relaxAfterMs`
 *   at the full budget without a 429 the 60 s window is dropped again (a probe of the documented limit).
 * Its state is a plain object, so a long-running writer (the Organization registrar) keeps what it learned
 * between runs.
 */
export interface PacerState {
  /** Requests per 10 s. */
  readonly fastLimit: number;
  /** Requests per 60 s, when the stricter reading holds; undefined while it does not. */
  readonly slowLimit?: number;
  /** No request before this time (Retry-After). */
  readonly blockedUntil: number;
  /** When the last 429 came (or the strict budget last grew). */
  readonly lastChange: number;
  /** Send times within the last minute. */
  readonly sent: number[];
  /** 429s seen by this pacer, in total. */
  readonly rejected: number;
}

export const FAST_WINDOW_MS = 10_000;
export const SLOW_WINDOW_MS = 60_000;
export const DOCUMENTED_LIMIT = 20;
/** Added to each window, so that requests spaced exactly at the limit are not rejected because of latency. */
export const WINDOW_MARGIN_MS = 250;
export const DEFAULT_RETRY_AFTER_MS = 60_000;

export interface PacerOptions {
  readonly increaseEveryMs?: number;
  readonly relaxAfterMs?: number;
}

export function initialPacerState(now: number): PacerState {
  return { fastLimit: DOCUMENTED_LIMIT, blockedUntil: 0, lastChange: now, sent: [], rejected: 0 };
}

export class Pacer {
  private state: PacerState;
  private readonly increaseEveryMs: number;
  private readonly relaxAfterMs: number;

  constructor(state: PacerState | undefined, now: number, options: PacerOptions = {}) {
    this.state = isPacerState(state)
      ? { ...state, sent: state.sent.filter(t => t > now - SLOW_WINDOW_MS - WINDOW_MARGIN_MS) }
      : initialPacerState(now);
    this.increaseEveryMs = options.increaseEveryMs ?? 5 * 60_000;
    this.relaxAfterMs = options.relaxAfterMs ?? 60 * 60_000;
  }

  snapshot(): PacerState {
    return { ...this.state, sent: [...this.state.sent] };
  }

  /** Whether the stricter (per-minute) reading is in force. */
  get strict(): boolean {
    return this.state.slowLimit !== undefined;
  }

  /** Milliseconds to wait at `now` before the next request may be sent (0: now). */
  delay(now: number): number {
    let wait = Math.max(0, this.state.blockedUntil - now);
    const windows: Array<[number, number]> = [[FAST_WINDOW_MS, this.state.fastLimit]];
    if (this.state.slowLimit !== undefined) windows.push([SLOW_WINDOW_MS, this.state.slowLimit]);
    for (const [ms, limit] of windows) {
      const span = ms + WINDOW_MARGIN_MS;
      const inWindow = this.state.sent.filter(t => t > now - span);
      if (inWindow.length >= limit) wait = Math.max(wait, inWindow[inWindow.length - limit] + span - now);
    }
    return wait;
  }

  /** Records a request sent at `now`. */
  sent(now: number): void {
    this.state = { ...this.state, sent: [...this.state.sent.filter(t => t > now - SLOW_WINDOW_MS - WINDOW_MARGIN_MS), now] };
  }

  /** Records an answer that was not a 429. */
  accepted(now: number): void {
    const s = this.state;
    if (s.slowLimit === undefined || now - s.lastChange < this.increaseEveryMs) return;
    if (s.slowLimit < DOCUMENTED_LIMIT) {
      this.state = { ...s, slowLimit: s.slowLimit + 1, lastChange: now };
    } else if (now - s.lastChange >= this.relaxAfterMs) {
      this.state = { ...s, slowLimit: undefined, lastChange: now };
    }
  }

  /** Records a 429 answered at `now`, with Retry-After in milliseconds when it had one. */
  rejected(now: number, retryAfterMs: number | undefined): void {
    const s = this.state;
    // The pacer never exceeds the 10 s window, so a 429 outside strict mode means the per-minute reading holds;
    // one in strict mode means less room still (another limit, or another writer of the same key).
    const slowLimit = s.slowLimit === undefined ? DOCUMENTED_LIMIT : Math.max(1, Math.floor(s.slowLimit * 0.7));
    this.state = {
      ...s,
      slowLimit,
      blockedUntil: Math.max(s.blockedUntil, now + (retryAfterMs ?? DEFAULT_RETRY_AFTER_MS)),
      lastChange: now,
      rejected: s.rejected + 1,
    };
  }
}

function isPacerState(value: unknown): value is PacerState {
  const v = value as PacerState | undefined;
  return !!v && typeof v.fastLimit === 'number' && typeof v.blockedUntil === 'number' && typeof v.lastChange === 'number'
    && Array.isArray(v.sent) && (v.slowLimit === undefined || typeof v.slowLimit === 'number');
}
