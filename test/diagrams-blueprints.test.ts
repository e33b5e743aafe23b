/**
 * The `blueprints` option: one machine-owned blueprint per account-region, from the JSON snapshot, shared with the
 * account's teams, written with If-Match; a person's edit (412) is left alone, overwritten or forked as the option
 * says. The decisions are tested directly; the runs go against the Cloudcraft emulator on virtual time.
 */
import { ACCOUNTS, world } from './support/diagram-world';
import {
  afterBlueprint, blueprintCall, blueprintDue, blueprintName, classifyBlueprint, MAX_BLUEPRINT_ATTEMPTS,
} from '../lib/diagrams/worker/blueprint-plan';
import { TargetRecord } from '../lib/diagrams/worker/plan';
import { recordKey } from '../lib/diagrams/worker/run';

const NAME = blueprintName('111122223333', 'eu-west-1');
const response = (status: number, body: unknown = null, etag?: string) => ({ kind: 'response' as const, status, body, text: '', ...(etag ? { etag } : {}) });

describe('the blueprint plan', () => {
  test('a blueprint is due for a version it does not hold, unless that version diverged or was given up', () => {
    expect(blueprintDue(undefined, undefined)).toBe(false);
    expect(blueprintDue('h1', undefined)).toBe(true);
    expect(blueprintDue('h1', { id: 'b', hash: 'h1' })).toBe(false);
    expect(blueprintDue('h2', { id: 'b', hash: 'h1' })).toBe(true);
    expect(blueprintDue('h2', { id: 'b', hash: 'h1', divergedHash: 'h2' })).toBe(false);
    // A diverged blueprint is tried once more at the next change (one call: a 412 again, or it was deleted).
    expect(blueprintDue('h3', { id: 'b', hash: 'h1', divergedHash: 'h2' })).toBe(true);
    expect(blueprintDue('h2', { id: 'b', failedHash: 'h2', failures: MAX_BLUEPRINT_ATTEMPTS - 1 })).toBe(true);
    expect(blueprintDue('h2', { id: 'b', failedHash: 'h2', failures: MAX_BLUEPRINT_ATTEMPTS })).toBe(false);
  });

  test('the request: create, update with If-Match, find after a lost POST, check when there is no ETag', () => {
    expect(blueprintCall(undefined)).toEqual({ kind: 'create' });
    expect(blueprintCall({ id: 'b', etag: '"v1"' })).toEqual({ kind: 'update', ifMatch: '"v1"' });
    expect(blueprintCall({ unsure: true })).toEqual({ kind: 'find' });
    expect(blueprintCall({ id: 'b' })).toEqual({ kind: 'check' });
    expect(blueprintCall({ id: 'b' }, { etag: '"v7"' })).toEqual({ kind: 'update', ifMatch: '"v7"', checked: true });
    expect(blueprintCall({ id: 'b' }, {})).toEqual({ kind: 'update', checked: true });
  });

  test('each answer is classified; a POST without an answer may have been done', () => {
    expect(classifyBlueprint(response(201, { id: 'b' }, '"v1"'))).toMatchObject({ kind: 'ok', etag: '"v1"' });
    expect(classifyBlueprint(response(204))).toMatchObject({ kind: 'ok' });
    expect(classifyBlueprint(response(412)).kind).toBe('edited');
    expect(classifyBlueprint(response(404)).kind).toBe('gone');
    expect(classifyBlueprint(response(401)).kind).toBe('unauthorized');
    expect(classifyBlueprint(response(403)).kind).toBe('refused');
    expect(classifyBlueprint(response(429))).toMatchObject({ kind: 'transient', maybeDone: false });
    expect(classifyBlueprint(response(502))).toMatchObject({ kind: 'transient', maybeDone: true });
    expect(classifyBlueprint({ kind: 'network', error: 'timeout', cause: 'timeout' })).toMatchObject({ kind: 'transient', maybeDone: true });
  });

  test('a 412 with the owner known is checked first: our own write whose answer was lost is no person\'s edit', () => {
    const b = { id: 'b1', etag: '"v1"', hash: 'h1', owner: 'key-user' };
    const verify = afterBlueprint(b, { kind: 'update', ifMatch: '"v1"' }, { kind: 'edited' }, 'h2', 'leave', 5, NAME);
    expect(verify.event).toBe('none');
    expect(blueprintCall(verify.blueprint)).toEqual({ kind: 'check' });
    // Last written by the key's user: written again with the ETag the check read.
    const ours = afterBlueprint(verify.blueprint, { kind: 'check' }, { kind: 'ok', status: 200, body: { LastUserId: 'key-user' }, etag: '"v2"' }, 'h2', 'leave', 5, NAME);
    expect(blueprintCall(ours.blueprint, ours.checked)).toEqual({ kind: 'update', ifMatch: '"v2"', checked: true });
    // A 412 to the ETag the check just read is no edit either: a failure, bounded.
    expect(afterBlueprint(ours.blueprint, { kind: 'update', ifMatch: '"v2"', checked: true }, { kind: 'edited' }, 'h2', 'leave', 5, NAME).event).toBe('failed');
    // A weak ETag never matches If-Match: treated as none.
    expect(classifyBlueprint(response(200, { id: 'b' }, 'W/"v3"'))).not.toHaveProperty('etag');
  });

  test('after a 412: left and reported, overwritten without If-Match, or forked', () => {
    // The owner unknown (a blueprint found after a lost POST without CreatorId): the 412 is taken as an edit at once.
    const b = { id: 'b1', etag: '"v1"', hash: 'h1' };
    const call = { kind: 'update' as const, ifMatch: '"v1"' };
    expect(afterBlueprint(b, call, { kind: 'edited' }, 'h2', 'leave', 5, NAME)).toEqual({
      blueprint: { ...b, divergedAt: 5, divergedHash: 'h2' }, event: 'diverged',
    });
    const over = afterBlueprint(b, call, { kind: 'edited' }, 'h2', 'overwrite', 5, NAME);
    expect(blueprintCall(over.blueprint, over.checked)).toEqual({ kind: 'update', checked: true });
    const fork = afterBlueprint(b, call, { kind: 'edited' }, 'h2', 'fork', 5, NAME);
    expect(fork).toMatchObject({ event: 'forked', blueprint: { left: ['b1'] } });
    expect(blueprintCall(fork.blueprint)).toEqual({ kind: 'create' });
  });

  test('a lost POST is looked for by name (never one left to people) before posting again', () => {
    const lost = afterBlueprint(undefined, { kind: 'create' }, { kind: 'transient', reason: 'timeout', maybeDone: true }, 'h1', 'leave', 0, NAME);
    expect(lost.blueprint).toMatchObject({ unsure: true, failures: 1 });
    const list = {
      blueprints: [
        { id: 'old', name: NAME, createdAt: '2026-01-01T00:00:00Z' },
        { id: 'mine', name: NAME, createdAt: '2026-02-01T00:00:00Z', CreatorId: 'key-user' },
        { id: 'other', name: 'Someone else\'s', createdAt: '2026-03-01T00:00:00Z' },
      ],
    };
    const found = afterBlueprint({ ...lost.blueprint, left: [] }, { kind: 'find' }, { kind: 'ok', status: 200, body: list }, 'h1', 'leave', 0, NAME);
    expect(found.blueprint).toMatchObject({ id: 'mine', owner: 'key-user' });
    expect(found.blueprint.unsure).toBeUndefined();
    const skipLeft = afterBlueprint({ unsure: true, left: ['mine'] }, { kind: 'find' }, { kind: 'ok', status: 200, body: list }, 'h1', 'leave', 0, NAME);
    expect(skipLeft.blueprint.id).toBe('old');
    const none = afterBlueprint({ unsure: true }, { kind: 'find' }, { kind: 'ok', status: 200, body: { blueprints: [] } }, 'h1', 'leave', 0, NAME);
    expect(blueprintCall(none.blueprint)).toEqual({ kind: 'create' });
  });

  test('without an ETag, the last user tells an edit: anyone but the key\'s user', () => {
    const b = { id: 'b1', hash: 'h1', owner: 'key-user' };
    const edited = afterBlueprint(b, { kind: 'check' }, { kind: 'ok', status: 200, body: { LastUserId: 'a-person' } }, 'h2', 'leave', 9, NAME);
    expect(edited.event).toBe('diverged');
    const ours = afterBlueprint(b, { kind: 'check' }, { kind: 'ok', status: 200, body: { LastUserId: 'key-user' } }, 'h2', 'leave', 9, NAME);
    expect(ours.checked).toEqual({});
  });
});

function record(w: ReturnType<typeof world>, account: string, region: string): TargetRecord {
  return w.io.items.get(recordKey(account, region))!.data as TargetRecord;
}

describe('a run with blueprints', () => {
  test('one blueprint per account-region from the JSON snapshot, named, shared with the account\'s teams; none without the option', async () => {
    const plain = world();
    await plain.run('schedule');
    expect(plain.emulator.calls.filter(c => c.path.startsWith('/blueprint'))).toHaveLength(0);

    const w = world({ blueprints: 'leave' });
    w.registrations[0].readAccess = ['team/readers'];
    w.registrations[0].writeAccess = ['team/writers'];
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ blueprints: 4, finished: true });
    expect(w.emulator.blueprints.size).toBe(4);
    const posts = w.emulator.callsTo('POST', '/blueprint');
    expect(posts).toHaveLength(4);
    const mine = [...w.emulator.blueprints.values()].find(b => b.name === blueprintName(ACCOUNTS[0], 'eu-west-1'))!;
    expect(mine.readAccess).toEqual(['team/readers']);
    expect(mine.writeAccess).toEqual(['team/writers']);
    // The blueprint is the diagram as written to S3 (unwrapped), under its name.
    const json = JSON.parse(w.io.objects.get(`diagrams/${ACCOUNTS[0]}/eu-west-1/latest.json`)!.body.toString());
    expect(mine.data).toEqual({ ...json, name: mine.name });
    // One account list for the teams, in this invocation.
    expect(w.emulator.callsTo('GET', '/aws/account')).toHaveLength(1);
    expect(record(w, ACCOUNTS[0], 'eu-west-1').blueprint).toMatchObject({ id: mine.id, etag: mine.etag });
  });

  test('a day with no change writes no blueprint; a change PUTs it with If-Match of the version written last', async () => {
    const w = world({ blueprints: 'leave' });
    await w.run('schedule');
    const id = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.id!;
    const etag = w.emulator.blueprints.get(id)!.etag;
    await w.clock.advance(86_400_000);
    const quiet = w.emulator.calls.length;
    await w.run('schedule');
    expect(w.emulator.calls.slice(quiet).filter(c => c.path.startsWith('/blueprint'))).toHaveLength(0);

    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-1', type: 'sqs' }]);
    const before = w.emulator.calls.length;
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ changed: 1, blueprints: 1 });
    const puts = w.emulator.calls.slice(before).filter(c => c.method === 'PUT' && c.path === `/blueprint/${id}`);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ ifMatch: etag, status: 204 });
    expect((w.emulator.blueprints.get(id)!.data.nodes as Array<{ id: string }>).map(n => n.id)).toEqual(['q-1']);
  });

  test('a blueprint a person edited is left alone and reported "diverged"; deleting it lets the library make a new one', async () => {
    const w = world({ blueprints: 'leave' });
    await w.run('schedule');
    const id = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.id!;
    w.emulator.editBlueprint(id, { note: 'drawn by hand' });
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-1', type: 'sqs' }]);
    const summary = await w.run('schedule');
    expect(summary).toMatchObject({ changed: 1, blueprints: 0, diverged: 1 });
    expect(w.emulator.blueprints.get(id)!.data.note).toBe('drawn by hand');
    expect(w.lines.some(l => l.level === 'warn' && /diverged/.test(l.msg) && l.fields?.blueprint === id)).toBe(true);
    expect(record(w, ACCOUNTS[0], 'eu-west-1').blueprint).toMatchObject({ id, divergedHash: record(w, ACCOUNTS[0], 'eu-west-1').hash });
    const index = w.io.objects.get('diagrams/index.html')!.body.toString();
    expect(index).toContain('Blueprint diverged');

    // The next change looks once (who changed it last: still the person); once deleted, a new one is made.
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-2', type: 'sqs' }]);
    const before = w.emulator.calls.length;
    expect(await w.run('schedule')).toMatchObject({ diverged: 1 });
    expect(w.emulator.calls.slice(before).filter(c => c.path.startsWith('/blueprint')).map(c => `${c.method} ${c.status}`)).toEqual(['GET 200']);
    w.emulator.blueprints.delete(id);
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-3', type: 'sqs' }]);
    expect(await w.run('schedule')).toMatchObject({ blueprints: 1, diverged: 0 });
    const fresh = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!;
    expect(fresh.id).not.toBe(id);
    expect(fresh.divergedAt).toBeUndefined();
  });

  test('a PUT whose answer was lost is not taken for a person\'s edit at the next change', async () => {
    const w = world({ blueprints: 'leave', regions: ['eu-west-1'] });
    await w.run('schedule');
    const id = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.id!;
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-1', type: 'sqs' }]);
    w.emulator.inject({ method: 'PUT', path: `/blueprint/${id}`, status: 502, afterAction: true, times: 1 });
    await w.run('schedule');
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-2', type: 'sqs' }]);
    expect(await w.run('schedule')).toMatchObject({ diverged: 0 });
    expect(record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.divergedAt).toBeUndefined();
    expect(w.emulator.blueprints.get(id)!.data.nodes).toEqual([expect.objectContaining({ id: 'q-2' })]);
  });

  test('overwrite: the person\'s edit is replaced by the diagram', async () => {
    const w = world({ blueprints: 'overwrite' });
    await w.run('schedule');
    const id = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.id!;
    w.emulator.editBlueprint(id, { note: 'drawn by hand' });
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-1', type: 'sqs' }]);
    expect(await w.run('schedule')).toMatchObject({ blueprints: 1, diverged: 0 });
    expect(w.emulator.blueprints.get(id)!.data.note).toBeUndefined();
    expect(record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.etag).toBe(w.emulator.blueprints.get(id)!.etag);
  });

  test('fork: the edited blueprint stays the people\'s, and a new one follows the diagram', async () => {
    const w = world({ blueprints: 'fork' });
    await w.run('schedule');
    const id = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.id!;
    w.emulator.editBlueprint(id, { note: 'drawn by hand' });
    await w.clock.advance(86_400_000);
    w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, [{ id: 'q-1', type: 'sqs' }]);
    expect(await w.run('schedule')).toMatchObject({ blueprints: 1, diverged: 1 });
    expect(w.emulator.blueprints.get(id)!.data.note).toBe('drawn by hand');
    const now = record(w, ACCOUNTS[0], 'eu-west-1').blueprint!;
    expect(now.id).not.toBe(id);
    expect(now.left).toEqual([id]);
    expect(w.emulator.blueprints.get(now.id!)!.data.nodes).toEqual([expect.objectContaining({ id: 'q-1' })]);
  });

  test('a POST whose answer is lost makes no duplicate: the next invocation finds it by name', async () => {
    const w = world({ blueprints: 'leave', regions: ['eu-west-1'] });
    w.emulator.inject({ method: 'POST', path: '/blueprint', status: 502, afterAction: true, times: 1 });
    await w.run('schedule');
    await w.clock.advance(15 * 60_000);
    await w.run('tick');
    await w.clock.advance(15 * 60_000);
    await w.run('tick');
    const names = [...w.emulator.blueprints.values()].map(b => b.name).sort();
    expect(names).toEqual(ACCOUNTS.map(a => blueprintName(a, 'eu-west-1')).sort());
    expect(w.emulator.callsTo('GET', '/blueprint')).toHaveLength(1);
    for (const account of ACCOUNTS) {
      const b = record(w, account, 'eu-west-1').blueprint!;
      expect(b).toMatchObject({ hash: record(w, account, 'eu-west-1').hash });
      expect(w.emulator.blueprints.get(b.id!)).toBeDefined();
    }
  });

  test('when Cloudcraft sends no ETag, an edit is told by the last user, and the library\'s own versions are updated', async () => {
    const w = world({ blueprints: 'leave', blueprintEtags: false, regions: ['eu-west-1'] });
    await w.run('schedule');
    const [a, b] = ACCOUNTS.map(account => record(w, account, 'eu-west-1').blueprint!.id!);
    w.emulator.editBlueprint(a, { note: 'drawn by hand' });
    await w.clock.advance(86_400_000);
    for (const account of ACCOUNTS) w.emulator.inventories.set(`${account}/eu-west-1`, [{ id: `q-${account}`, type: 'sqs' }]);
    expect(await w.run('schedule')).toMatchObject({ changed: 2, blueprints: 1, diverged: 1 });
    expect(w.emulator.blueprints.get(a)!.data.note).toBe('drawn by hand');
    expect(w.emulator.blueprints.get(b)!.data.nodes).toEqual([expect.objectContaining({ id: `q-${ACCOUNTS[1]}` })]);
  });

  test('a blueprint that keeps failing is given up for that change after a bounded number of attempts', async () => {
    const w = world({ blueprints: 'leave', regions: ['eu-west-1'] });
    w.emulator.inject({ method: 'POST', path: '/blueprint', status: 403, times: 100 });
    await w.run('schedule');
    for (let i = 0; i < 5; i++) {
      await w.clock.advance(15 * 60_000);
      await w.run('tick');
    }
    expect(w.emulator.callsTo('POST', '/blueprint')).toHaveLength(2 * MAX_BLUEPRINT_ATTEMPTS);
    expect(record(w, ACCOUNTS[0], 'eu-west-1').blueprint!.lastError).toMatch(/403.*left as it is until the diagram changes/);
  });

  test('401 while writing a blueprint stops the run once', async () => {
    const w = world({ blueprints: 'leave', regions: ['eu-west-1'], concurrency: 1 });
    w.emulator.inject({ method: 'POST', path: '/blueprint', status: 401, times: 100 });
    const summary = await w.run('schedule');
    expect(summary.error).toMatch(/401 while writing the blueprint.*Store a current key/);
    expect(w.emulator.callsTo('POST', '/blueprint')).toHaveLength(1);
  });
});
