/**
 * A Cloudcraft client for an API and a key's reference, as the single-account functions make one: the key read (and
 * added to the redactor), paced by a pacer of its own (these functions send a few requests per invocation).
 */
import { ApiKeyRef, describeKeySource, readApiKey, SecretReader } from './api-key';
import { Clock } from './clock';
import { CloudcraftClient, CloudcraftClientOptions, Log } from './cloudcraft';
import { Transport } from './http';
import { Pacer } from './pacer';
import { localPacing } from './pacing';
import { Redactor } from './redact';

export interface ConnectDeps {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly readSecret: SecretReader;
  readonly random: () => number;
}

export async function connectWithKey(api: { readonly apiUrl: string; readonly apiKey: ApiKeyRef }, deps: ConnectDeps, log: Log, redactor: Redactor,
  deadlineAt: number, options: Partial<CloudcraftClientOptions> = {}): Promise<CloudcraftClient> {
  const apiKey = await readApiKey(api.apiKey, deps.readSecret, redactor, options.signal);
  return new CloudcraftClient({
    apiUrl: api.apiUrl,
    apiKey,
    keySource: describeKeySource(api.apiKey),
    clock: deps.clock,
    transport: deps.transport,
    pacing: localPacing(new Pacer(undefined, deps.clock.now())),
    log,
    random: deps.random,
    deadlineAt,
    ...options,
  });
}
