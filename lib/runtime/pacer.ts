/**
 * The pacer of one Cloudcraft API key: when the next request may be sent. Pure: time is passed in.
 *
 * Cloudcraft documents two limits for a key (cloudcraft-api.md): 20 requests per 10 s (API reference, with 429 and
 * Retry-After) and 20 requests per minute (FAQ: "wait 60 s after a 429"). Whether rejected requests count is not
 * said, and other users of the same key take their share unseen. The pacer handles every reading:
 * - it starts at the documented limit, 20 requests in any 10 s (sliding window, with a small margin for latency);
 * - a 429 blocks every request until Retry-After has passed, honoured up to `MAX_RETRY_AFTER_MS` (60 s without the
 *   header, the FAQ's figure): a Retry-After of a day must not stop a run, or the stack's Delete, for a day;
 * - a 429 that comes after a few requests of its own says how many fitted: the 10 s budget becomes what fitted
 *   (others of the key take the rest); one after 19 or 20 accepted within a minute, or a second one soon after, means
 *   the per-minute reading holds: a 60 s window is added at what fitted. One 429 takes a budget no lower than 10
 *   (half the documented 20): another user's occasional burst does not ratchet it down; a 429 at that floor, when not
 *   even that fitted, halves it. A 429 at one of its first requests is someone else's burst: it only blocks, and
 *   neither changes a budget nor delays a probe;
 * - more than 20 requests accepted within a minute refute the per-minute reading: the 60 s window goes at once;
 * - probes: after `probeMs` without a 429 a budget grows (+1 per 10 s, a quarter per 60 s, past 20 there, so that the
 *   per-minute reading can be refuted). A probe that meets a 429 doubles `probeMs` (up to an hour), one that does not
 *   halves it again: once 429s stop, the faster reading is back within minutes, and 429s stay a small share.
 * - a share: a caller that must leave room for others of the key (the diagram work, behind registration) asks with a
 *   reserve: it waits while the key's requests of the last minute, everyone's, leave fewer than `reserve` of the
 *   per-minute reading (20, or the budget in force); a reserve as large as the limit still lets it send one a minute
 *   when nobody else sends. Others that use the whole minute keep it waiting: registration first.
 * Its state is a plain object, so writers of one key share it (the Organization registrar keeps it in its ledger).
 */
export interface PacerState {
  /** Requests per 10 s. */
  readonly fastLimit: number;
  /** Requests per 60 s, while the per-minute reading holds; undefined while it does not. */
  readonly slowLimit?: number;
  /** No request before this time (Retry-After). */
  readonly blockedUntil: number;
  /** When the last 429 came, or a budget last grew. */
  readonly lastChange: number;
  /** Time without a 429 before a budget grows. */
  readonly probeMs: number;
  /** Whether the last change was a probe (a budget grown): a 429 now means the probe failed. */
  readonly probing: boolean;
  /** When the last informative 429 came (two close together mean the per-minute reading). */
  readonly lastRejectedAt?: number;
  /** When the per-minute reading was last refuted (more than 20 accepted within a minute). */
  readonly refutedAt?: number;
  /** Send times within the last minute, accepted or not. */
  readonly sent: number[];
  /** Times of accepted answers within the last minute. */
  readonly accepted: number[];
  /** Times of the informative 429s of the last minutes that came with a budget at or under the floor. */
  readonly atFloor?: number[];
  /** 429s seen by this state, in total. */
  readonly rejected: number;
}

export const FAST_WINDOW_MS = 10_000;
export const SLOW_WINDOW_MS = 60_000;
export const DOCUMENTED_LIMIT = 20;
/** Added to each window, so that requests spaced exactly at the limit are not rejected because of latency. */
export const WINDOW_MARGIN_MS = 250;
/** Without Retry-After, and the most of one that is honoured (Cloudcraft's FAQ: "wait 60 s after a 429"). */
export const MAX_RETRY_AFTER_MS = 60_000;
export const PROBE_BASE_MS = 4 * 60_000;
/** The longest time between probes: a few of another user's bursts must not keep a budget down for hours. */
export const PROBE_MAX_MS = 16 * 60_000;
/** How far past the documented 20 the per-minute budget is probed, to refute that reading. */
const SLOW_PROBE_CEILING = 25;
/** The lowest a single 429 takes a budget to: half the documented 20 (below it only after 429s keep coming at it). */
const BUDGET_FLOOR = 10;
const FLOOR_REJECTIONS = 3;
const FLOOR_SPAN_MS = 5 * 60_000;
/** A 429 within this many of the pacer's own requests in the 10 s window is someone else's burst. */
const INFORMATIVE_REQUESTS = 3;
/** How long a refutation of the per-minute reading holds. */
const REFUTATION_MS = 60 * 60_000;

export function initialPacerState(now: number): PacerState {
  return {
    fastLimit: DOCUMENTED_LIMIT, blockedUntil: 0, lastChange: now, probeMs: PROBE_BASE_MS, probing: false, sent: [], accepted: [], rejected: 0,
  };
}

/** Retry-After as honoured: at most MAX_RETRY_AFTER_MS, and that much when it is absent. */
export function honouredRetryAfter(retryAfterMs: number | undefined): number {
  return Math.min(retryAfterMs ?? MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS);
}

export class Pacer {
  private state: PacerState;

  constructor(state: PacerState | undefined, now: number) {
    this.state = isPacerState(state) ? prune(state, now) : initialPacerState(now);
  }

  snapshot(): PacerState {
    return { ...this.state, sent: [...this.state.sent], accepted: [...this.state.accepted] };
  }

  /** Whether the per-minute reading is in force. */
  get strict(): boolean {
    return this.state.slowLimit !== undefined;
  }

  /**
   * Milliseconds to wait at `now` before the next request may be sent (0: now); with `reservePerMinute`, before it
   * may be sent leaving that many of the minute's requests to the key's other users.
   */
  delay(now: number, reservePerMinute: number = 0): number {
    let wait = Math.max(0, this.state.blockedUntil - now);
    const windows: Array<[number, number]> = [[FAST_WINDOW_MS, this.state.fastLimit]];
    if (this.state.slowLimit !== undefined) windows.push([SLOW_WINDOW_MS, this.state.slowLimit]);
    // The reserve is left under the per-minute reading as learnt, and never above the documented 20: a probe that
    // raised the budget past it (to see whether the limit grew) must not hand the probe's room to the caller.
    if (reservePerMinute > 0) {
      windows.push([SLOW_WINDOW_MS, shareOf(Math.min(this.state.slowLimit ?? DOCUMENTED_LIMIT, DOCUMENTED_LIMIT), reservePerMinute)]);
    }
    for (const [ms, limit] of windows) {
      const inWindow = within(this.state.sent, now, ms + WINDOW_MARGIN_MS);
      if (inWindow.length >= limit) wait = Math.max(wait, inWindow[inWindow.length - limit] + ms + WINDOW_MARGIN_MS - now);
    }
    return wait;
  }

  /** Records a request sent at `now`. */
  sent(now: number): void {
    const s = prune(this.state, now);
    this.state = { ...s, sent: [...s.sent, now] };
  }

  /** Records an answer that was not a 429. */
  accepted(now: number): void {
    let s = prune(this.state, now);
    s = { ...s, accepted: [...s.accepted, now] };
    if (s.accepted.length > DOCUMENTED_LIMIT) s = { ...s, slowLimit: undefined, refutedAt: now };
    if (now - s.lastChange >= s.probeMs && (s.slowLimit !== undefined || s.fastLimit < DOCUMENTED_LIMIT)) {
      // A probe that met no 429 makes the next one come sooner.
      const probeMs = s.probing ? Math.max(PROBE_BASE_MS, s.probeMs / 2) : s.probeMs;
      s = s.slowLimit !== undefined
        ? { ...s, slowLimit: Math.min(SLOW_PROBE_CEILING, s.slowLimit + Math.max(1, Math.ceil(s.slowLimit / 4))) }
        : { ...s, fastLimit: s.fastLimit + 1 };
      s = { ...s, probeMs, probing: true, lastChange: now };
    }
    this.state = s;
  }

  /** Records a 429 answered at `now`, with Retry-After in milliseconds when it had one. */
  rejected(now: number, retryAfterMs: number | undefined): void {
    let s = prune(this.state, now);
    const ours = within(s.sent, now, FAST_WINDOW_MS + WINDOW_MARGIN_MS).length;
    const acceptedInMinute = s.accepted.length;
    s = { ...s, blockedUntil: Math.max(s.blockedUntil, now + honouredRetryAfter(retryAfterMs)), rejected: s.rejected + 1 };
    if (ours < INFORMATIVE_REQUESTS && acceptedInMinute < INFORMATIVE_REQUESTS) {
      // Someone else's burst at this pacer's first requests: it only blocks (no budget, no probe changes).
      this.state = s;
      return;
    }
    s = { ...s, probeMs: s.probing ? Math.min(PROBE_MAX_MS, s.probeMs * 2) : s.probeMs, probing: false, lastChange: now };
    const refuted = s.refutedAt !== undefined && now - s.refutedAt < REFUTATION_MS;
    const again = s.lastRejectedAt !== undefined && now - s.lastRejectedAt < 2 * SLOW_WINDOW_MS;
    const perMinute = !refuted && (acceptedInMinute >= DOCUMENTED_LIMIT - 1 || again || s.slowLimit !== undefined);
    if (!perMinute && ours < INFORMATIVE_REQUESTS) {
      this.state = { ...s, lastRejectedAt: now };
      return;
    }
    const budget = perMinute ? s.slowLimit ?? SLOW_PROBE_CEILING : s.fastLimit;
    // At the floor, the 429s that count as persisting are one per window: one burst of another user fills one window.
    const windowMs = perMinute ? SLOW_WINDOW_MS : FAST_WINDOW_MS;
    const earlier = (s.atFloor ?? []).filter(t => t > now - FLOOR_SPAN_MS);
    const atFloor = budget > BUDGET_FLOOR ? [] : earlier.length > 0 && now - earlier[earlier.length - 1] < windowMs ? earlier : [...earlier, now];
    const persistent = atFloor.length >= FLOOR_REJECTIONS;
    const next = lowered(budget, perMinute ? acceptedInMinute : ours - 1, persistent);
    // The per-minute reading explains it: the 60 s window, at what fitted; else the 10 s window (others of the key
    // take the rest).
    s = perMinute ? { ...s, slowLimit: next } : { ...s, fastLimit: next };
    s = { ...s, atFloor: persistent ? [] : atFloor };
    this.state = { ...s, lastRejectedAt: now };
  }
}

/**
 * A budget after a 429: what fitted, but not below `BUDGET_FLOOR` at once (another user's occasional burst must not
 * ratchet it down). At or under the floor it is halved only when 429s keep coming there (in `FLOOR_REJECTIONS`
 * windows within `FLOOR_SPAN_MS`): the key's limit left to this pacer is lower than the floor for good.
 */
function lowered(current: number, fitted: number, persistent: boolean): number {
  if (fitted >= current) return current;
  if (current > BUDGET_FLOOR) return Math.max(BUDGET_FLOOR, fitted);
  return persistent ? Math.max(1, Math.floor(current / 2)) : current;
}

/** What a caller that leaves `reserve` requests a minute to others may send in a minute (at least one). */
export function shareOf(perMinute: number, reserve: number): number {
  return Math.max(1, perMinute - reserve);
}

function within(times: number[], now: number, ms: number): number[] {
  return times.filter(t => t > now - ms);
}

function prune(s: PacerState, now: number): PacerState {
  const span = SLOW_WINDOW_MS + WINDOW_MARGIN_MS;
  return { ...s, sent: within(s.sent, now, span), accepted: within(s.accepted, now, SLOW_WINDOW_MS) };
}

function isPacerState(value: unknown): value is PacerState {
  const v = value as PacerState | undefined;
  return !!v && typeof v.fastLimit === 'number' && typeof v.blockedUntil === 'number' && typeof v.lastChange === 'number'
    && typeof v.probeMs === 'number' && Array.isArray(v.sent) && Array.isArray(v.accepted)
    && (v.slowLimit === undefined || typeof v.slowLimit === 'number');
}
