/**
 * Living diagrams, increment 1: the snapshot model (runtime/snapshot.ts), the plan (diagrams/worker/plan.ts), the
 * pacer's share for the diagram work, and one run of the work (run.ts) against the Cloudcraft emulator on virtual time,
 * with the state table, S3 and EventBridge in memory.
 */
import { ACCOUNTS, EXTERNAL_ID, world } from './support/diagram-world';
import { renderIndex } from '../lib/diagrams/worker/index-page';
import { afterDelay, afterJson, classifySnapshot, MAX_POLLS, nextStep, TargetRecord, workOrder } from '../lib/diagrams/worker/plan';
import { DIAGRAM_CHANGED, recordKey } from '../lib/diagrams/worker/run';
import { DOCUMENTED_LIMIT, Pacer, SLOW_WINDOW_MS } from '../lib/runtime/pacer';
import { canonicalJson, diagramChange, diagramHash, unwrapSnapshot } from '../lib/runtime/snapshot';


describe('the snapshot model', () => {
  const doc = { name: 'prod eu-west-1', grid: 'standard', nodes: [{ id: 'i-2', type: 'ec2', mapPos: [1, 0] }, { id: 'db-1', type: 'rds', mapPos: [0, 0] }], edges: [], updatedAt: '2026-12-01T00:00:00Z' };

  test('a snapshot with or without the {"data": ...} wrapper is the same diagram', () => {
    expect(unwrapSnapshot({ data: doc })).toEqual(doc);
    expect(unwrapSnapshot(doc)).toEqual(doc);
    expect(diagramHash(unwrapSnapshot({ data: doc })!)).toBe(diagramHash(unwrapSnapshot(doc)!));
    // A diagram that has its own "data" field beside its components is not a wrapper.
    const withData = { data: { note: 1 }, nodes: [] };
    expect(unwrapSnapshot(withData)).toBe(withData);
    for (const notOne of [null, 'text', [doc], 42]) expect(unwrapSnapshot(notOne)).toBeUndefined();
  });

  test('the hash ignores key order, component order and the blueprint\'s bookkeeping, not the architecture', () => {
    const reordered = { updatedAt: '2026-12-02T09:00:00Z', edges: [], nodes: [...doc.nodes].reverse().map(n => ({ mapPos: n.mapPos, type: n.type, id: n.id })), grid: 'standard', name: 'renamed' };
    expect(diagramHash(reordered)).toBe(diagramHash(doc));
    expect(canonicalJson({ b: 1, a: [{ id: 'z' }, { id: 'a' }] })).toBe('{"a":[{"id":"a"},{"id":"z"}],"b":1}');
    const grown = { ...doc, nodes: [...doc.nodes, { id: 'fn-1', type: 'lambda', mapPos: [2, 0] }] };
    expect(diagramHash(grown)).not.toBe(diagramHash(doc));
    const moved = { ...doc, nodes: [{ ...doc.nodes[0], mapPos: [5, 5] }, doc.nodes[1]] };
    expect(diagramHash(moved)).not.toBe(diagramHash(doc));
    expect(diagramHash(doc)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('what changed is counted by component type', () => {
    const after = { nodes: [{ id: 'i-2', type: 'ec2' }, { id: 'i-3', type: 'ec2' }, { id: 'i-4', type: 'ec2' }, { id: 'q-1', type: 'sqs' }] };
    expect(diagramChange(doc, after)).toEqual({ added: { ec2: 2, sqs: 1 }, removed: { rds: 1 } });
    expect(diagramChange(undefined, after).added).toEqual({ ec2: 3, sqs: 1 });
    expect(diagramChange(after, after)).toEqual({ added: {}, removed: {} });
  });
});

describe('the pacer\'s share', () => {
  test('a caller with a reserve of 5 leaves 5 of the minute\'s 20 requests to the others, everyone\'s counted', () => {
    const pacer = new Pacer(undefined, 0);
    let now = 0;
    let mine = 0;
    while (now < SLOW_WINDOW_MS) {
      const wait = pacer.delay(now, 5);
      if (wait > 0) {
        now += wait;
        continue;
      }
      pacer.sent(now);
      pacer.accepted(now);
      if (now < SLOW_WINDOW_MS) mine++;
      now += 100;
    }
    expect(mine).toBe(DOCUMENTED_LIMIT - 5);
    // The others' requests count too: after 10 of theirs, 5 are left to the share within the minute.
    const shared = new Pacer(undefined, 0);
    for (let i = 0; i < 10; i++) shared.sent(i * 10);
    let n = 0;
    for (let t = 200; shared.delay(t, 5) === 0; t += 10) {
      shared.sent(t);
      n++;
    }
    expect(n).toBe(5);
    // And the one without a reserve is not held back by it.
    expect(shared.delay(1_000)).toBe(0);
    // A reserve as large as the limit still leaves one request a minute.
    const starved = new Pacer(undefined, 0);
    expect(starved.delay(0, 50)).toBe(0);
    starved.sent(0);
    expect(starved.delay(1, 50)).toBeGreaterThan(SLOW_WINDOW_MS - 10);
  });

  test('a per-minute budget a probe raised above 20 does not give the caller the reserve: still 15 of the documented 20', () => {
    // Found by the bench of the registrar and the diagrams together: a probe had raised the budget to 25, the reserve
    // was taken from that, and a new account's registration met a 429.
    const probed = new Pacer({ ...new Pacer(undefined, 0).snapshot(), slowLimit: 25 }, 0);
    let sent = 0;
    for (let t = 0; t < SLOW_WINDOW_MS && probed.delay(t, 5) === 0; t += 100) {
      probed.sent(t);
      sent++;
    }
    expect(sent).toBe(DOCUMENTED_LIMIT - 5);
    // Learnt lower than 20: the reserve is left under what was learnt.
    const lower = new Pacer({ ...new Pacer(undefined, 0).snapshot(), slowLimit: 12 }, 0);
    let fewer = 0;
    for (let t = 0; t < SLOW_WINDOW_MS && lower.delay(t, 5) === 0; t += 100) {
      lower.sent(t);
      fewer++;
    }
    expect(fewer).toBe(7);
  });
});

describe('the plan', () => {
  const target = { accountId: '111122223333', region: 'eu-west-1', registrationId: 'reg-1' };
  const keys = (f: string) => `d/111122223333/eu-west-1/t.${f}`;
  const none = { added: {}, removed: {} };

  test('a target is fetched once per round, then done; a 202 is polled again later, a bounded number of times', () => {
    expect(nextStep(target, 10, 10)).toEqual({ kind: 'fetch', format: 'json' });
    expect(nextStep({ ...target, round: 10 }, 10, 10)).toEqual({ kind: 'done' });
    expect(nextStep({ ...target, round: 9 }, 10, 10)).toEqual({ kind: 'fetch', format: 'json' });
    let record: TargetRecord = target;
    const seen: number[] = [];
    for (let i = 0; i < MAX_POLLS; i++) {
      record = afterDelay(record, 10, 1_000, 'json', 'Cloudcraft was still processing').record;
      const step = nextStep(record, 10, 1_000);
      if (step.kind === 'later') seen.push(step.at - 1_000);
    }
    expect(seen).toEqual([60_000, 120_000, 180_000, 240_000, 300_000]);
    expect(nextStep(record, 10, 1_000)).toEqual({ kind: 'done' });
    expect(record.lastError).toContain(`not ready after ${MAX_POLLS} polls`);
  });

  test('an unchanged snapshot writes nothing; a changed one writes the JSON, renders each image, then announces', () => {
    const first = afterJson(target, 1, 100, 'h1', ['png', 'svg'], keys, none, { nodes: [] });
    expect(first.effects.map(e => e.kind)).toEqual(['write-json']);
    expect(nextStep(first.record, 1, 100)).toEqual({ kind: 'fetch', format: 'png' });
    const settled = { ...first.record, pending: undefined, round: 1, hash: 'h1', keys: { json: keys('json') } };
    const same = afterJson(settled, 2, 200, 'h1', ['png', 'svg'], keys, none, { nodes: [] });
    expect(same.effects).toEqual([]);
    expect(same.record.round).toBe(2);
    const changed = afterJson(settled, 2, 200, 'h2', [], keys, { added: { ec2: 1 }, removed: {} }, { nodes: [] });
    expect(changed.effects.map(e => e.kind)).toEqual(['write-json', 'announce']);
    expect(changed.record).toMatchObject({ hash: 'h2', round: 2, changedAt: 200 });
    // The first version of a diagram is no change: nothing announced.
    expect(afterJson(target, 1, 100, 'h1', [], keys, none, { nodes: [] }).effects.map(e => e.kind)).toEqual(['write-json']);
  });

  test('work under way first, then never snapshotted, then the oldest', () => {
    const a = { ...target, accountId: 'a', snapshotAt: 50 };
    const b = { ...target, accountId: 'b' };
    const c = { ...target, accountId: 'c', snapshotAt: 10 };
    const d = { ...target, accountId: 'd', polls: 1 };
    expect(workOrder([a, b, c, d]).map(r => r.accountId)).toEqual(['d', 'b', 'c', 'a']);
  });

  test('each answer is classified as the API reference says', () => {
    const r = (status: number, body: unknown = null, text = '') => ({ kind: 'response' as const, status, body, text });
    expect(classifySnapshot(r(202, { code: 'STILL_PROCESSING', retry: true }), 'json').kind).toBe('processing');
    expect(classifySnapshot(r(404, { error: 'AWS account not found' }), 'json').kind).toBe('gone');
    expect(classifySnapshot(r(400, { error: 'Invalid region parameter: eu-nowhere' }), 'json')).toMatchObject({ kind: 'refused', reason: expect.stringContaining('eu-nowhere') });
    expect(classifySnapshot(r(401), 'json').kind).toBe('unauthorized');
    // 403 is this registration's (the key's user may not see it): this target only.
    expect(classifySnapshot(r(403), 'png')).toMatchObject({ kind: 'refused', reason: expect.stringContaining('403') });
    expect(classifySnapshot(r(429), 'json').kind).toBe('transient');
    expect(classifySnapshot(r(503), 'json').kind).toBe('transient');
    expect(classifySnapshot({ kind: 'network', error: 'ECONNRESET', cause: 'network' }, 'json').kind).toBe('transient');
    expect(classifySnapshot(r(200, undefined, '<html>'), 'json').kind).toBe('transient');
    // A JSON answer that is no diagram (an empty object, an error body) must not overwrite one.
    expect(classifySnapshot(r(200, {}, '{}'), 'json').kind).toBe('transient');
    expect(classifySnapshot(r(200, { error: 'degraded' }, ''), 'json').kind).toBe('transient');
    expect(classifySnapshot(r(200, { data: {} }, ''), 'json').kind).toBe('transient');
    expect(classifySnapshot(r(200, { nodes: [] }, '{"nodes":[]}'), 'json').kind).toBe('json');
    expect(classifySnapshot({ ...r(200, undefined, 'x'), bytes: new Uint8Array([1, 2]) }, 'png')).toEqual({ kind: 'image', bytes: new Uint8Array([1, 2]) });
  });
});

describe('a run of the diagram work', () => {
  test('the first round takes every account-region\'s JSON and images, writes them under the prefix, and announces nothing', async () => {
    const w = world();
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ targets: 4, snapshots: 4, changed: 4, images: 8, announced: 0, finished: true, left: 0 });
    const calls = w.snapshotCalls();
    expect(calls.filter(c => c.path.endsWith('/json'))).toHaveLength(4);
    expect(calls.filter(c => /\/(png|svg)$/.test(c.path))).toHaveLength(8);
    for (const id of ACCOUNTS) {
      for (const region of ['eu-west-1', 'us-east-1']) {
        for (const format of ['json', 'png', 'svg']) {
          const latest = w.io.objects.get(`diagrams/${id}/${region}/latest.${format}`);
          expect(latest).toBeDefined();
          expect(latest!.metadata).toMatchObject({ 'account-id': id, region, 'hash': expect.stringMatching(/^[0-9a-f]{64}$/) });
          const dated = [...w.io.objects.keys()].filter(k => new RegExp(`^diagrams/${id}/${region}/\\d{4}-\\d{2}-\\d{2}T\\d{6}Z\\.${format}$`).test(k));
          expect(dated).toHaveLength(1);
        }
      }
    }
    // The PNG is the emulator's real PNG, byte for byte.
    const png = w.io.objects.get(`diagrams/${ACCOUNTS[0]}/eu-west-1/latest.png`)!;
    expect(png.contentType).toBe('image/png');
    expect(png.body.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // Rendering options go to the images only.
    expect(calls.filter(c => c.path.endsWith('/json')).map(c => c.query)).toEqual(['', '', '', '']);
    expect(new Set(calls.filter(c => /\/(png|svg)$/.test(c.path)).map(c => c.query))).toEqual(new Set(['theme=dark']));
    expect(w.io.events).toEqual([]);
  });

  test('the index page: a card per account-region whose image and links are objects the run wrote; earlier versions after a change', async () => {
    const w = world();
    await w.run('schedule');
    const page = () => w.io.objects.get('diagrams/index.html')!.body.toString('utf8');
    const cards = () => [...page().matchAll(/<article class="card" data-account="(\d+)" data-region="([a-z0-9-]+)">([\s\S]*?)<\/article>/g)];
    expect(w.io.objects.get('diagrams/index.html')!.contentType).toBe('text/html; charset=utf-8');
    expect(cards().map(c => `${c[1]}/${c[2]}`)).toEqual([`${ACCOUNTS[0]}/eu-west-1`, `${ACCOUNTS[0]}/us-east-1`, `${ACCOUNTS[1]}/eu-west-1`, `${ACCOUNTS[1]}/us-east-1`]);
    const resolves = (url: string) => w.io.objects.has(`diagrams/${decodeURIComponent(url)}`);
    for (const [, account, region, body] of cards()) {
      const images = [...body.matchAll(/<img src="([^"]+)"/g)].map(m => m[1]);
      expect(images).toEqual([`${account}/${region}/latest.png`]);
      const links = [...body.matchAll(/href="([^"]+)"/g)].map(m => m[1]);
      expect(links.length).toBeGreaterThanOrEqual(4);
      for (const url of [...images, ...links]) expect(resolves(url)).toBe(true);
    }
    const first = w.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord;
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'fn-9', type: 'lambda' }]);
    await w.run('schedule');
    const changed = cards().find(c => c[1] === ACCOUNTS[0] && c[2] === 'eu-west-1')![3];
    const earlier = /<details><summary>Earlier versions<\/summary><ul>([\s\S]*?)<\/ul><\/details>/.exec(changed)![1];
    const earlierLinks = [...earlier.matchAll(/href="([^"]+)"/g)].map(m => decodeURIComponent(m[1]));
    expect(earlierLinks.sort()).toEqual(Object.values(first.keys!).map(k => k.slice('diagrams/'.length)).sort());
    for (const url of earlierLinks) expect(resolves(url)).toBe(true);
  });

  test('the index page escapes what it shows', () => {
    const html = renderIndex([{ accountId: '111122223333', region: 'eu-west-1', registrationId: 'r', lastError: 'Cloudcraft said "<script>alert(1)</script>" & more' }], { prefix: 'p/', generatedAt: 0 });
    expect(html).toContain('Cloudcraft said "&lt;script&gt;alert(1)&lt;/script&gt;" &amp; more');
    expect(html).not.toContain('<script>');
    expect(html).toContain('No image yet.');
  });

  test('a day with no change: one JSON call per account-region, no image call, no write, no event', async () => {
    const w = world();
    await w.run('schedule');
    const before = { calls: w.snapshotCalls().length, puts: w.io.puts };
    await w.clock.advance(86_400_000);
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ snapshots: 4, unchanged: 4, changed: 0, images: 0, announced: 0, finished: true });
    const calls = w.snapshotCalls().slice(before.calls);
    expect(calls.map(c => c.path.split('/').pop())).toEqual(['json', 'json', 'json', 'json']);
    expect(w.io.puts).toBe(before.puts);
    expect(w.io.events).toEqual([]);
  });

  test('a changed account-region gets its images and one event that says what changed; the others only their JSON', async () => {
    const w = world();
    await w.run('schedule');
    const first = w.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord;
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: `i-${ACCOUNTS[0]}`, type: 'ec2' }, { id: 'i-new', type: 'ec2' }, { id: 'q-1', type: 'sqs' }]);
    const before = w.snapshotCalls().length;
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ snapshots: 4, unchanged: 3, changed: 1, images: 2, announced: 1 });
    const images = w.snapshotCalls().slice(before).filter(c => /\/(png|svg)\?/.test(c.path) || /\/(png|svg)$/.test(c.path));
    expect(images.map(c => c.path.split('/')[3])).toEqual([w.registrations[0].id, w.registrations[0].id]);
    expect(w.io.events).toHaveLength(1);
    const { detailType, detail } = w.io.events[0];
    expect(detailType).toBe(DIAGRAM_CHANGED);
    expect(detail).toMatchObject({
      accountId: ACCOUNTS[0],
      region: 'eu-west-1',
      registrationId: w.registrations[0].id,
      added: { ec2: 1, sqs: 1 },
      removed: { rds: 1 },
      previousKeys: first.keys,
    });
    const keys = detail.keys as Record<string, string>;
    expect(Object.keys(keys).sort()).toEqual(['json', 'png', 'svg']);
    for (const key of Object.values(keys)) expect(w.io.objects.has(key)).toBe(true);
    expect(keys.json).not.toBe(first.keys!.json);
  });

  test('a snapshot still processing is never waited for in the function: the target is polled again later, within a bound', async () => {
    const w = world({ regions: ['eu-west-1'], formats: [] });
    w.emulator.snapshotScanMs = 200_000;
    // Each request long-polls 120 s and answers 202; the invocation does not wait for the next poll (a minute later): it
    // ends, and the next tick polls again.
    const started = w.clock.now();
    expect(await w.run('schedule')).toMatchObject({ targets: 2, snapshots: 0, processing: 2, finished: false, left: 2 });
    expect(w.clock.now() - started).toBeLessThan(125_000);
    expect(w.snapshotCalls().filter(c => c.status === 202)).toHaveLength(2);
    await w.clock.advance(60_000);
    expect(await w.run('tick')).toMatchObject({ snapshots: 2, finished: true });
    // A scan that never ends: MAX_POLLS polls, then the round goes on without it, and says why.
    const v = world({ regions: ['eu-west-1'], formats: [] });
    v.emulator.snapshotScanMs = 7 * 86_400_000;
    let last;
    for (let tick = 0; tick < 10; tick++) {
      last = await v.run(tick === 0 ? 'schedule' : 'tick');
      if (last.finished || last.skipped) break;
      await v.clock.advance(15 * 60_000);
    }
    expect(last).toMatchObject({ finished: true, snapshots: 0 });
    expect(v.snapshotCalls()).toHaveLength(2 * MAX_POLLS);
    const record = v.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord;
    expect(record.lastError).toContain(`not ready after ${MAX_POLLS} polls`);
    // A tick with no round open reads the round and ends.
    const calls = v.snapshotCalls().length;
    await v.clock.advance(15 * 60_000);
    expect(await v.run('tick')).toMatchObject({ skipped: 'no round open' });
    expect(v.snapshotCalls()).toHaveLength(calls);
  });

  test('401 stops the run once, with one clear error, not one per account', async () => {
    const w = world({ concurrency: 2, regions: ['eu-west-1', 'us-east-1', 'eu-central-1'] });
    w.emulator.users.splice(0, 1, { key: 'another'.padEnd(44, 'x'), externalId: EXTERNAL_ID });
    const summary = await w.run('schedule');
    expect(summary.finished).toBe(false);
    expect(summary.error).toMatch(/401.*does not accept the API key.*The run stopped/s);
    // The requests already in flight (2), not one per account-region (6).
    expect(w.snapshotCalls()).toHaveLength(2);
    expect([...w.io.items.keys()].filter(k => k.startsWith('target#'))).toEqual([]);
  });

  test('403 for one registration (the key\'s user may not see it) skips that one; the others are drawn', async () => {
    const w = world({ concurrency: 4, formats: [] });
    w.emulator.accounts.get(w.registrations[1].id)!.externalId = 'ffffffff-1111-4222-8333-944455556666';
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ finished: true, snapshots: 2, failed: 2 });
    expect(summary.error).toBeUndefined();
    const refused = w.io.items.get(recordKey(ACCOUNTS[1], 'eu-west-1'))!.data as TargetRecord;
    expect(refused.lastError).toMatch(/403.*may not see this registration/);
  });

  test('an image format Cloudcraft refuses is given up for that change: the JSON and the other images become the latest version', async () => {
    const w = world({ regions: ['eu-west-1'] });
    w.emulator.inject({ method: 'GET', path: /\/png$/, status: 400, body: { error: 'Invalid paperSize', reason: 'invalid_parameter', code: 400 }, times: 1000 });
    expect(await w.run('schedule')).toMatchObject({ finished: true, changed: 2, images: 2 });
    const record = w.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord;
    expect(record).toMatchObject({ hash: expect.any(String), keys: { json: expect.any(String), svg: expect.any(String) } });
    expect(record.keys!.png).toBeUndefined();
    expect(record.lastError).toMatch(/Invalid paperSize.*rendering options/);
    await w.clock.advance(86_400_000);
    // The next day nothing changed: one JSON call each, and no image.
    const before = w.snapshotCalls().length;
    expect(await w.run('schedule')).toMatchObject({ unchanged: 2, changed: 0 });
    expect(w.snapshotCalls().slice(before).map(c => c.path.split('/').pop())).toEqual(['json', 'json']);
  });

  test('S3 failing for one target fails that one only; the next tick takes it up, and it is skipped after 3 failures', async () => {
    const w = world({ regions: ['eu-west-1'], formats: [] });
    const putObject = w.io.putObject.bind(w.io);
    let failing = 1;
    w.io.putObject = async (key, ...rest) => {
      if (key.includes(ACCOUNTS[0]) && failing > 0) {
        failing--;
        throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' });
      }
      return putObject(key, ...rest);
    };
    const first = await w.run('schedule');
    expect(first).toMatchObject({ finished: false, left: 1, failed: 1 });
    expect(w.io.objects.has(`diagrams/${ACCOUNTS[1]}/eu-west-1/latest.json`)).toBe(true);
    expect(w.lines.some(l => l.level === 'error' && String(l.fields?.error).includes('SlowDown'))).toBe(true);
    await w.clock.advance(15 * 60_000);
    expect(await w.run('tick')).toMatchObject({ finished: true });
    expect(w.io.objects.has(`diagrams/${ACCOUNTS[0]}/eu-west-1/latest.json`)).toBe(true);
    // A failure that does not go away: three invocations, then the round goes on without it.
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, []);
    failing = Infinity;
    let last;
    for (let i = 0; i < 5; i++) {
      last = await w.run(i === 0 ? 'schedule' : 'tick');
      if (last.finished) break;
      await w.clock.advance(15 * 60_000);
    }
    expect(last).toMatchObject({ finished: true });
    expect((w.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord).lastError).toMatch(/SlowDown.*3 times: skipped this round/);
  });

  test('a JSON snapshot of the previous version expired by the lifecycle does not change what is announced: the diff is against latest.json', async () => {
    const w = world({ regions: ['eu-west-1'], formats: [] });
    await w.run('schedule');
    const first = w.io.items.get(recordKey(ACCOUNTS[0], 'eu-west-1'))!.data as TargetRecord;
    w.io.objects.delete(first.keys!.json);
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: `i-${ACCOUNTS[0]}`, type: 'ec2' }, { id: `db-${ACCOUNTS[0]}`, type: 'rds' }, { id: 'q-1', type: 'sqs' }]);
    await w.run('schedule');
    expect(w.io.events.map(e => ({ added: e.detail.added, removed: e.detail.removed }))).toEqual([{ added: { sqs: 1 }, removed: {} }]);
  });

  test('a registration Cloudcraft no longer has (404) is skipped; a region it refuses (400) is named', async () => {
    const w = world({ regions: ['eu-west-1', 'eu-nowhere'], formats: [] });
    w.emulator.accounts.delete(w.registrations[1].id);
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ finished: true, snapshots: 1, failed: 3 });
    const gone = w.io.items.get(recordKey(ACCOUNTS[1], 'eu-west-1'))!.data as TargetRecord;
    expect(gone.lastError).toMatch(/no registration .* \(404\)/);
    const refused = w.io.items.get(recordKey(ACCOUNTS[0], 'eu-nowhere'))!.data as TargetRecord;
    expect(refused.lastError).toMatch(/Invalid region parameter: eu-nowhere.*region eu-nowhere/);
  });

  test('a JSON snapshot that comes wrapped one day and bare the next is no change', async () => {
    const w = world({ formats: [] });
    await w.run('schedule');
    w.emulator.snapshotWrapped = true;
    await w.clock.advance(86_400_000);
    expect(await w.run('schedule')).toMatchObject({ unchanged: 4, changed: 0, announced: 0 });
  });

  test('the work stays within its share of the key: at most 15 requests a minute, no 429 under the 20 per minute reading', async () => {
    const w = world({ regions: ['eu-west-1', 'us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-west-2'], formats: ['png', 'svg'], concurrency: 10 });
    w.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds', countRejected: true };
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ targets: 10, snapshots: 10, images: 20, finished: true });
    const times = w.snapshotCalls().map(c => c.at);
    for (const t of times) expect(times.filter(u => u > t - 60_000 && u <= t).length).toBeLessThanOrEqual(15);
    expect(w.emulator.rejected429).toBe(0);
    // 30 requests at 15 a minute: two minutes, not more (the share is used, not wasted).
    expect(times[times.length - 1] - times[0]).toBeLessThan(2.2 * 60_000);
  });

  test('a deadline that comes while pacing holds requests back ends the invocation (it never spins), and the next tick goes on', async () => {
    const w = world({ regions: ['eu-west-1', 'us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-west-2', 'eu-north-1', 'sa-east-1', 'ca-central-1', 'eu-west-2', 'eu-west-3'], formats: [] });
    // 20 account-regions at 15 a minute; an invocation with one minute left has room for one minute of requests.
    const first = await w.run('schedule', 'run-1', 1);
    expect(first).toMatchObject({ snapshots: 15, finished: false, left: 5 });
    await w.clock.advance(15 * 60_000);
    expect(await w.run('tick')).toMatchObject({ snapshots: 5, finished: true });
  });

  test('one writer: a run that finds the lease held does nothing, and the schedule it brought is not lost', async () => {
    const w = world();
    await w.io.put('meta#lease', { owner: 'someone', expiresAt: w.clock.now() + 60_000 });
    expect(await w.run('schedule')).toMatchObject({ skipped: expect.stringContaining('another invocation holds the lease'), calls: 0 });
    expect(w.snapshotCalls()).toHaveLength(0);
    await w.clock.advance(61_000);
    // The next tick opens the round the schedule asked for.
    expect(await w.run('tick')).toMatchObject({ finished: true, snapshots: 4 });
  });

  test('a schedule event delivered twice opens one round', async () => {
    const w = world({ formats: [] });
    expect(await w.run('schedule')).toMatchObject({ finished: true, snapshots: 4 });
    await w.clock.advance(5_000);
    expect(await w.run('schedule')).toMatchObject({ skipped: 'no round open' });
    expect(w.snapshotCalls()).toHaveLength(4);
  });
});
