/**
 * Carries out one blueprint step (blueprint-plan.ts decides): reads the diagram's JSON from S3, the account's teams
 * from Cloudcraft (one account list per invocation, when a blueprint is written), and sends the request.
 */
import {
  afterBlueprint, BlueprintCall, blueprintCall, BlueprintEvent, BlueprintMode, blueprintName, BlueprintNext, BlueprintRecord, classifyBlueprint,
} from './blueprint-plan';
import type { TargetRecord } from './plan';
import { Clock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError } from '../../runtime/cloudcraft';
import { unwrapSnapshot } from '../../runtime/snapshot';

export interface BlueprintWriterDeps {
  readonly client: CloudcraftClient;
  readonly clock: Clock;
  readonly mode: BlueprintMode;
  /** The object's text; undefined when there is none. */
  readonly getObject: (key: string) => Promise<string | undefined>;
  /** `<prefix><account>/<region>/`. */
  readonly base: (record: TargetRecord) => string;
}

/** A step's result: the blueprint's record and what happened, or the run must stop (401), or the deadline came. */
export type BlueprintStep =
  | { readonly kind: 'done'; readonly blueprint: BlueprintRecord; readonly event: BlueprintEvent }
  | { readonly kind: 'unauthorized'; readonly reason: string }
  | { readonly kind: 'out-of-time' };

interface Access {
  readonly readAccess?: unknown;
  readonly writeAccess?: unknown;
}

export class BlueprintWriter {
  /** The account list of this invocation (the teams a blueprint is shared with), by registration id. */
  private accounts?: Promise<Map<string, Access> | string>;

  constructor(private readonly deps: BlueprintWriterDeps) {}

  async step(record: TargetRecord): Promise<BlueprintStep> {
    const hash = record.hash!;
    const name = blueprintName(record.accountId, record.region);
    let call = blueprintCall(record.blueprint);
    let blueprint = record.blueprint;
    // A check is followed by its update in the same step.
    for (let i = 0; i < 2; i++) {
      const result = await this.send(record, blueprint, call, name);
      if (result.kind !== 'answer') return result;
      const next: BlueprintNext = result.next ?? afterBlueprint(blueprint, call, result.answer!, hash, this.deps.mode, this.deps.clock.now(), name);
      blueprint = next.blueprint;
      if (!next.checked || i === 1) return { kind: 'done', blueprint, event: next.event };
      call = blueprintCall(blueprint, next.checked);
    }
    return { kind: 'done', blueprint: blueprint ?? {}, event: 'none' };
  }

  private async send(record: TargetRecord, blueprint: BlueprintRecord | undefined, call: BlueprintCall, name: string): Promise<
    | { kind: 'answer'; answer?: ReturnType<typeof classifyBlueprint>; next?: BlueprintNext }
    | { kind: 'unauthorized'; reason: string } | { kind: 'out-of-time' }> {
    const id = encodeURIComponent(blueprint?.id ?? '');
    let body: unknown;
    if (call.kind === 'create' || call.kind === 'update') {
      const prepared = await this.body(record, name);
      if ('unavailable' in prepared) {
        // Not this blueprint's failure (the account list could not be read): not counted; the next invocation tries.
        return { kind: 'answer', next: { blueprint: { ...blueprint, lastError: prepared.unavailable }, event: 'failed' } };
      }
      if ('refused' in prepared) {
        // Not sent: counted as a failed attempt of this change.
        return { kind: 'answer', next: afterBlueprint(blueprint, call, { kind: 'refused', reason: prepared.refused }, record.hash!, this.deps.mode, this.deps.clock.now(), name) };
      }
      body = prepared.data;
    }
    const [method, path] = call.kind === 'find' ? ['GET', '/blueprint'] as const
      : call.kind === 'create' ? ['POST', '/blueprint'] as const
        : call.kind === 'check' ? ['GET', `/blueprint/${id}`] as const : ['PUT', `/blueprint/${id}`] as const;
    const headers: Record<string, string> = call.kind === 'update' && call.ifMatch !== undefined ? { 'If-Match': call.ifMatch } : {};
    let outcome;
    try {
      outcome = await this.deps.client.attempt('blueprint', method, path, body, undefined, headers);
    } catch (err) {
      if (err instanceof CloudcraftError) return { kind: 'out-of-time' };
      throw err;
    }
    const answer = classifyBlueprint(outcome);
    if (answer.kind === 'unauthorized') return { kind: 'unauthorized', reason: answer.reason };
    return { kind: 'answer', answer };
  }

  /** The request body: the diagram as the blueprint's data, named, shared with the account's teams; or why it cannot be made. */
  private async body(record: TargetRecord, name: string): Promise<{ data: Record<string, unknown> } | { refused: string } | { unavailable: string }> {
    const text = (record.keys?.json ? await this.deps.getObject(record.keys.json) : undefined)
      ?? await this.deps.getObject(`${this.deps.base(record)}latest.json`);
    const diagram = text !== undefined ? unwrapSnapshot(parse(text)) : undefined;
    if (!diagram) return { refused: 'the diagram\'s JSON could not be read from the bucket' };
    // One list per invocation, whatever it gave (a failure too: the next invocation asks again).
    const accounts = await (this.accounts ??= this.listAccounts());
    if (typeof accounts === 'string') return { unavailable: accounts };
    const access = accounts.get(record.registrationId);
    if (!access) return { refused: `Cloudcraft no longer lists the registration ${record.registrationId}` };
    const teams = (list: unknown) => (Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : undefined);
    const readAccess = teams(access.readAccess);
    const writeAccess = teams(access.writeAccess);
    return {
      data: {
        data: { ...diagram, name },
        ...(readAccess ? { readAccess } : {}),
        ...(writeAccess ? { writeAccess } : {}),
      },
    };
  }

  private async listAccounts(): Promise<Map<string, Access> | string> {
    let outcome;
    try {
      outcome = await this.deps.client.attempt('list', 'GET', '/aws/account');
    } catch {
      return 'no time left to read the account\'s teams';
    }
    const accounts = outcome.kind === 'response' && outcome.status === 200 ? (outcome.body as { accounts?: unknown } | null)?.accounts : undefined;
    if (!Array.isArray(accounts)) {
      return `the account list (the teams to share the blueprint with) could not be read (${outcome.kind === 'response' ? outcome.status : outcome.error})`;
    }
    return new Map(accounts.filter(a => typeof a?.id === 'string').map(a => [a.id as string, a as Access]));
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
