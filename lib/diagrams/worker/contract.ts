/**
 * The contract between `CloudcraftDiagrams` and its function: what the construct sends it. Logic-free and imported by
 * both sides, so that the compiler enforces the coupling (as the CDK provider framework's consts.ts does).
 *
 * Everything that decides where the API key goes and what the function may write is in its environment, fixed at
 * synth and out of reach of an event. An event only says which trigger it is.
 */
import type { BlueprintMode } from './blueprint-plan';
import type { ApiKeyRef } from '../../runtime/api-key';

export const DIAGRAMS_ENVIRONMENT_VARIABLE = 'CDK_CLOUDCRAFT_DIAGRAMS';

/** The detail-type of the event the diagram work puts (its source is the library's, runtime/events.ts). */
export const DIAGRAM_CHANGED = 'Cloudcraft Diagram Changed';

/** The S3 object tag of a dated copy, which the bucket's lifecycle rule expires. */
export const DATED_COPY_TAG = { key: 'cdk-cloudcraft-copy', value: 'dated' } as const;

/** Where the accounts to draw come from. */
export type DiagramAccounts =
  /** The Organization registrar's ledger: every account it registered. */
  | { readonly ledgerTable: string }
  /** This stack's registrations. */
  | { readonly registrations: Array<{ readonly accountId: string; readonly registrationId: string }> };

export interface DiagramsEnvironment {
  readonly apiUrl: string;
  readonly apiKey: ApiKeyRef;
  /** The diagram work's own state (records, round, lease). */
  readonly stateTable: string;
  /** The table with the key's pacing record (the registrar's ledger, when the key has one: one record per key). */
  readonly pacingTable: string;
  readonly accounts: DiagramAccounts;
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly regions: string[];
  /** Image formats, rendered when a diagram changed. */
  readonly formats: string[];
  /** Cloudcraft's rendering options as a query string (without "?"). */
  readonly query: string;
  readonly concurrency: number;
  /** Requests a minute left to registration (the key's other users). */
  readonly reservePerMinute: number;
  /** One machine-owned blueprint per account-region, and what is done with one someone edited; none when absent. */
  readonly blueprints?: BlueprintMode;
  readonly metricsNamespace: string;
  /** The value of the metrics' StateTable dimension (this installation's state table). */
  readonly metricsDimension: string;
}

/** What an EventBridge rule of the construct sends (its Input): the user's schedule opens a round, a tick continues it. */
export interface DiagramsTrigger {
  readonly kind: 'schedule' | 'tick';
}
