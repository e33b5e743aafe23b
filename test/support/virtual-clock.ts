/**
 * Virtual time for tests: a `Clock` whose time moves only when every piece of work is waiting on it. `run()` drives
 * a piece of work: it lets all ready work (promises, and real I/O registered with `track`) finish, then jumps to the
 * next timer. Results do not depend on how fast or busy the machine is: a 15-minute deadline costs no real time,
 * and a timeout fires only when virtual time reaches it.
 */
import { AbortedError, Clock } from '../../lib/runtime/clock';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];
  private inflight = 0;

  constructor(start: number = Date.UTC(2026, 10, 24, 12, 0, 0)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError());
      const timer: Timer = {
        at: this.time + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter(t => t !== timer);
        reject(new AbortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** Registers real I/O (a socket to a local stand-in): time stands still until it settles. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.inflight++;
    return promise.finally(() => {
      this.inflight--;
    });
  }

  /** Wraps every method of an I/O object with `track`. */
  trackAll<T extends object>(io: T): T {
    const wrapped: Record<string, unknown> = {};
    for (const key of Object.keys(io) as Array<keyof T & string>) {
      const value = io[key];
      wrapped[key] = typeof value === 'function' ? (...args: unknown[]) => this.track(Promise.resolve((value as (...a: unknown[]) => unknown).apply(io, args))) : value;
    }
    return wrapped as T;
  }

  /** Advances time by `ms`, firing the timers due on the way. */
  async advance(ms: number): Promise<void> {
    // Time never goes back: a negative step would put every recorded time in the future.
    if (!(ms >= 0)) throw new Error(`VirtualClock.advance: ${ms} ms is not a step forward`);
    const until = this.time + ms;
    await this.settle();
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > until) break;
      this.fireDue(next.at);
      await this.settle();
    }
    this.time = until;
  }

  /** Runs `work` to completion on virtual time. Fails if it waits on nothing the clock can move (a deadlock). */
  async run<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
    const promise = typeof work === 'function' ? work() : work;
    let done = false;
    promise.then(() => { done = true; }, () => { done = true; });
    for (;;) {
      await this.settle();
      if (done) return promise;
      const next = this.nextTimer();
      if (!next) throw new Error('VirtualClock.run: the work waits on nothing that time can move (deadlock)');
      this.fireDue(next.at);
    }
  }

  /** Lets ready work finish: microtasks, and tracked real I/O. */
  private async settle(): Promise<void> {
    for (let idle = 0; idle < 3;) {
      await new Promise(resolve => setImmediate(resolve));
      if (this.inflight > 0) {
        idle = 0;
        await new Promise(resolve => setTimeout(resolve, 1));
      } else {
        idle++;
      }
    }
  }

  private nextTimer(): Timer | undefined {
    return this.timers.reduce<Timer | undefined>((min, t) => (!min || t.at < min.at || (t.at === min.at && t.seq < min.seq) ? t : min), undefined);
  }

  private fireDue(at: number): void {
    this.time = Math.max(this.time, at);
    const due = this.timers.filter(t => t.at <= this.time).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.timers = this.timers.filter(t => t.at > this.time);
    for (const t of due) t.fire();
  }
}
