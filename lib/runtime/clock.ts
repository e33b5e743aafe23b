/**
 * Time, injected. The Lambda code never reads the wall clock or sets a timer directly: it asks a `Clock`. In Lambda
 * that is `systemClock`; tests give a virtual clock (test/support/virtual-clock.ts) whose time moves only when every
 * piece of work is waiting on it, so results do not depend on how busy the machine is.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with a `StopError('deadline')`-like AbortError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const onAbort = () => {
      clearTimeout(handle);
      reject(new AbortedError());
    };
    const handle = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

/**
 * An AbortSignal that aborts when `parent` aborts or `ms` have passed on `clock` (the clock's own timer, so a
 * virtual clock controls timeouts too).
 */
export function timeoutSignal(clock: Clock, ms: number, parent?: AbortSignal): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const stop = new AbortController();
  const onParent = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  parent?.addEventListener('abort', onParent, { once: true });
  clock.sleep(ms, stop.signal).then(
    () => controller.abort(new TimeoutError()),
    () => undefined,
  );
  return {
    signal: controller.signal,
    cancel: () => {
      stop.abort();
      parent?.removeEventListener('abort', onParent);
    },
  };
}

export class TimeoutError extends Error {
  constructor() {
    super('timed out');
    this.name = 'TimeoutError';
  }
}
