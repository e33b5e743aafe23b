/**
 * The pacer alone (pure): a sliding-window model of Cloudcraft's limit drives it, under both documented readings
 * (20 per 10 s, 20 per minute) and with rejected requests counted or not. Each case checks the figures the
 * Organization registrar depends on: requests accepted as a share of what the limit allows, and 429s as a share of
 * requests.
 */
import { DOCUMENTED_LIMIT, FAST_WINDOW_MS, Pacer, SLOW_WINDOW_MS } from '../lib/runtime/pacer';

/** A server-side limit: `limit` requests in any `windowMs`; rejected requests count when `countRejected`. */
class Limit {
  private seen: number[] = [];
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly countRejected: boolean) {}
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

/** Sends `requests` requests as fast as the pacer allows; returns accepted, rejected and the time it took. */
function drive(limit: Limit, requests: number, retryAfter: boolean, pacer = new Pacer(undefined, 0)) {
  let now = 0;
  let accepted = 0;
  let rejected = 0;
  while (accepted < requests) {
    now += pacer.delay(now);
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
  return { accepted, rejected, tookMs: now, pacer };
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
});

test('a 429 blocks until Retry-After, and switches to the per-minute reading', () => {
  const pacer = new Pacer(undefined, 0);
  pacer.sent(0);
  pacer.rejected(0, 7_000);
  expect(pacer.delay(0)).toBe(7_000);
  expect(pacer.strict).toBe(true);
});

test('without Retry-After, a 429 blocks 60 s (the FAQ)', () => {
  const pacer = new Pacer(undefined, 0);
  pacer.rejected(1_000, undefined);
  expect(pacer.delay(1_000)).toBe(60_000);
});

test('429s while strict decrease the per-minute budget; clean minutes increase it again, then the documented limit is probed', () => {
  const pacer = new Pacer(undefined, 0, { increaseEveryMs: 60_000, relaxAfterMs: 600_000 });
  pacer.rejected(0, 1_000);
  pacer.rejected(1_000, 1_000);
  expect(pacer.snapshot().slowLimit).toBe(14);
  let now = 1_000;
  for (let i = 0; i < 6; i++) {
    now += 60_000;
    pacer.accepted(now);
  }
  expect(pacer.snapshot().slowLimit).toBe(DOCUMENTED_LIMIT);
  pacer.accepted(now + 600_000);
  expect(pacer.strict).toBe(false);
});

test('its state survives a round trip through JSON (the registrar keeps it in its ledger)', () => {
  const first = new Pacer(undefined, 0);
  first.sent(0);
  first.rejected(10, 30_000);
  const second = new Pacer(JSON.parse(JSON.stringify(first.snapshot())), 20);
  expect(second.strict).toBe(true);
  expect(second.delay(20)).toBe(29_990);
  expect(new Pacer({ nonsense: true } as never, 0).strict).toBe(false);
});
