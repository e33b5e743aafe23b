/**
 * The pacer alone (pure): a sliding-window model of Cloudcraft's limit drives it, under both documented readings
 * (20 per 10 s, 20 per minute), with rejected requests counted or not, and with another user of the same key taking
 * part of the limit unseen. Each case checks the figures the Organization registrar depends on: requests accepted as
 * a share of what the limit leaves, and 429s as a share of requests.
 */
import { DOCUMENTED_LIMIT, FAST_WINDOW_MS, MAX_RETRY_AFTER_MS, Pacer, PROBE_BASE_MS, SLOW_WINDOW_MS } from '../lib/runtime/pacer';

/** A server-side limit: `limit` requests in any `windowMs`; rejected requests count when `countRejected`. */
class Limit {
  private seen: number[] = [];
  constructor(private readonly limit: number, readonly windowMs: number, private readonly countRejected: boolean) {}
  /** Returns undefined when accepted, else Retry-After in ms (when there will be room). */
  take(now: number): number | undefined {
    this.seen = this.seen.filter(t => t > now - this.windowMs);
    if (this.seen.length >= this.limit) {
      if (this.countRejected) this.seen.push(now);
      return this.seen[this.seen.length - this.limit] + this.windowMs - now;
    }
    this.seen.push(now);
    return undefined;
  }
}

interface Foreign {
  /** Requests per window that another user of the key sends, evenly spaced. */
  readonly perWindow: number;
  /** A burst of that user's that fills the window just before the first request (its first answer is a 429). */
  readonly burstFirst?: boolean;
}

/**
 * Another user of the key who sends `size` requests at once every `everyMs` (an occasional batch), while the pacer
 * sends as fast as it allows for `durationMs`: its accepted requests per minute, hour by hour, and its budgets at the end.
 */
function withBursts(limit: Limit, size: number, everyMs: number, durationMs: number) {
  const pacer = new Pacer(undefined, 0);
  const perHour: number[] = [];
  let now = 0;
  let nextBurst = everyMs / 2;
  while (now < durationMs) {
    now += pacer.delay(now);
    for (; nextBurst <= now; nextBurst += everyMs) for (let i = 0; i < size; i++) limit.take(nextBurst + i);
    pacer.sent(now);
    const wait = limit.take(now);
    if (wait === undefined) {
      pacer.accepted(now);
      const hour = Math.floor(now / 3_600_000);
      perHour[hour] = (perHour[hour] ?? 0) + 1;
    } else {
      pacer.rejected(now, Math.ceil(wait / 1000) * 1000);
    }
    now += 50;
  }
  return { perMinute: perHour.map(n => n / 60), final: pacer.snapshot() };
}

/** Sends `requests` requests as fast as the pacer allows; returns accepted, rejected and the time it took. */
function drive(limit: Limit, requests: number, retryAfter: boolean, pacer = new Pacer(undefined, 0), foreign?: Foreign) {
  let now = 0;
  let accepted = 0;
  let rejected = 0;
  let foreignAccepted = 0;
  const every = foreign ? limit.windowMs / foreign.perWindow : Infinity;
  let nextForeign = foreign ? 0 : Infinity;
  if (foreign?.burstFirst) for (let i = 0; i < DOCUMENTED_LIMIT; i++) limit.take(-1);
  const foreignUntil = (t: number) => {
    for (; nextForeign <= t; nextForeign += every) if (limit.take(nextForeign) === undefined) foreignAccepted++;
  };
  while (accepted < requests) {
    now += pacer.delay(now);
    foreignUntil(now);
    pacer.sent(now);
    const wait = limit.take(now);
    if (wait === undefined) {
      accepted++;
      pacer.accepted(now);
    } else {
      rejected++;
      pacer.rejected(now, retryAfter ? Math.ceil(wait / 1000) * 1000 : undefined);
    }
    now += 50; // latency
  }
  return { accepted, rejected, tookMs: now, pacer, foreignAccepted };
}

describe.each([
  ['20 per 10 s', FAST_WINDOW_MS],
  ['20 per minute', SLOW_WINDOW_MS],
])('under %s', (_name, windowMs) => {
  test.each([
    ['rejected requests not counted, Retry-After given', false, true],
    ['rejected requests counted, Retry-After given', true, true],
    ['rejected requests counted, no Retry-After', true, false],
  ])('%s: at least 0.95 of the limit, at most 1%% of requests rejected', (_case, countRejected, retryAfter) => {
    const { accepted, rejected, tookMs } = drive(new Limit(DOCUMENTED_LIMIT, windowMs, countRejected), 2_000, retryAfter);
    const ceiling = DOCUMENTED_LIMIT * (tookMs / windowMs + 1);
    expect(accepted / ceiling).toBeGreaterThanOrEqual(0.95);
    expect(rejected / (accepted + rejected)).toBeLessThanOrEqual(0.01);
  });

  test('another user of the key takes a fifth of the limit, and its burst makes the first answer a 429: at least 0.9 of what is left, at most 1% rejected', () => {
    const foreign = { perWindow: DOCUMENTED_LIMIT / 5, burstFirst: true };
    const { accepted, rejected, tookMs } = drive(new Limit(DOCUMENTED_LIMIT, windowMs, true), 2_000, true, new Pacer(undefined, 0), foreign);
    const left = (DOCUMENTED_LIMIT - foreign.perWindow) * (tookMs / windowMs + 1);
    expect(accepted / left).toBeGreaterThanOrEqual(0.9);
    expect(rejected / (accepted + rejected)).toBeLessThanOrEqual(0.01);
  });
});

test.each([
  ['20 per 10 s', FAST_WINDOW_MS],
  ['20 per minute', SLOW_WINDOW_MS],
])('under %s, another user\'s batch of 20 every 10 minutes does not ratchet the budgets down: still at least half of what is left after 4 hours', (_name, windowMs) => {
  const { perMinute, final } = withBursts(new Limit(DOCUMENTED_LIMIT, windowMs, true), 20, 10 * 60_000, 4 * 3_600_000);
  const left = DOCUMENTED_LIMIT * (60_000 / windowMs) - 2;
  expect(perMinute[3] / left).toBeGreaterThanOrEqual(0.45);
  expect(final.fastLimit).toBeGreaterThanOrEqual(10);
  expect(final.slowLimit ?? DOCUMENTED_LIMIT).toBeGreaterThanOrEqual(10);
});

test('a 429 blocks until Retry-After; one at the first requests (someone else\'s burst) changes no budget', () => {
  const pacer = new Pacer(undefined, 0);
  pacer.sent(0);
  pacer.rejected(0, 7_000);
  expect(pacer.delay(0)).toBe(7_000);
  expect(pacer.strict).toBe(false);
  expect(pacer.snapshot().fastLimit).toBe(DOCUMENTED_LIMIT);
});

test('without Retry-After, a 429 blocks 60 s (the FAQ); a Retry-After of a day is honoured for 60 s only', () => {
  const pacer = new Pacer(undefined, 0);
  pacer.rejected(1_000, undefined);
  expect(pacer.delay(1_000)).toBe(60_000);
  const day = new Pacer(undefined, 0);
  day.rejected(1_000, 86_400_000);
  expect(day.delay(1_000)).toBe(MAX_RETRY_AFTER_MS);
});

test('a 429 after 20 accepted within a minute means the per-minute reading: a 60 s window at 20', () => {
  const pacer = new Pacer(undefined, 0);
  for (let i = 0; i < 20; i++) {
    pacer.sent(i * 100);
    pacer.accepted(i * 100 + 50);
  }
  pacer.sent(10_300);
  pacer.rejected(10_350, 50_000);
  expect(pacer.snapshot().slowLimit).toBe(DOCUMENTED_LIMIT);
});

test('a spurious per-minute reading (the limit is 20 per 10 s) is left within minutes once no 429 comes: the first probe refutes it', () => {
  const limit = new Limit(DOCUMENTED_LIMIT, FAST_WINDOW_MS, true);
  const pacer = new Pacer(undefined, 0);
  // 20 accepted, then a 429 caused by a call of the key made elsewhere: it looks like the per-minute reading.
  for (let i = 0; i < 20; i++) {
    pacer.sent(i * 100);
    limit.take(i * 100);
    pacer.accepted(i * 100 + 50);
  }
  pacer.sent(2_100);
  pacer.rejected(2_150, 8_000);
  expect(pacer.strict).toBe(true);
  let now = 2_200;
  while (pacer.strict && now < 30 * 60_000) {
    now += pacer.delay(now);
    pacer.sent(now);
    if (limit.take(now) === undefined) pacer.accepted(now + 50);
    else pacer.rejected(now + 50, 1_000);
    now += 50;
  }
  expect(pacer.strict).toBe(false);
  expect(now).toBeLessThanOrEqual(PROBE_BASE_MS + 2 * SLOW_WINDOW_MS);
});

test('its state survives a round trip through JSON (the registrar keeps it in its ledger); a foreign object is ignored', () => {
  const first = new Pacer(undefined, 0);
  first.sent(0);
  first.rejected(10, 30_000);
  const second = new Pacer(JSON.parse(JSON.stringify(first.snapshot())), 20);
  expect(second.snapshot()).toEqual(first.snapshot());
  expect(second.delay(20)).toBe(29_990);
  expect(new Pacer({ nonsense: true } as never, 0).snapshot().fastLimit).toBe(DOCUMENTED_LIMIT);
});
