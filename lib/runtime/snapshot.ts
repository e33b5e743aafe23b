/**
 * What a diagram is, as pure functions: the JSON snapshot Cloudcraft answers (`GET /aws/account/{id}/{region}/json`,
 * a blueprint document, with or without a `{"data": ...}` wrapper: which one is not confirmed, so both are read), its
 * stable hash, and what changed between two snapshots, by component type. No I/O.
 */
import { createHash } from 'crypto';

/** A blueprint document, unwrapped. */
export type Diagram = Record<string, unknown>;

/**
 * Fields of a blueprint document that describe the blueprint, not the architecture (its identity, owner, sharing and
 * timestamps): left out of the hash, so that a snapshot of an unchanged account hashes the same every day.
 */
export const BOOKKEEPING_FIELDS: readonly string[] = ['id', 'name', 'createdAt', 'updatedAt', 'CreatorId', 'LastUserId', 'readAccess', 'writeAccess', 'customerId', 'version'];

/** The lists of a blueprint document whose items are components (each with an `id` and a `type`). */
const COMPONENT_LISTS = ['nodes', 'groups', 'edges', 'connectors', 'text', 'icons', 'images', 'surfaces'];

/**
 * The diagram of a snapshot answer, or undefined when it is not one: not a JSON object, or one without any list of
 * components (`{}`, an error body, a proxy's JSON must not overwrite a diagram or be announced as "all removed").
 */
export function unwrapSnapshot(body: unknown): Diagram | undefined {
  if (!isObject(body)) return undefined;
  // `{"data": {...}}` and nothing else of a diagram beside it: the wrapper.
  const diagram = isObject(body.data) && !hasComponents(body) ? body.data : body;
  return hasComponents(diagram) ? diagram : undefined;
}

function hasComponents(value: Record<string, unknown>): boolean {
  return COMPONENT_LISTS.some(list => Array.isArray(value[list]));
}

/**
 * The JSON of a value with object keys sorted at every level, and lists of components sorted by id (the order of a
 * scan's components carries no meaning): the same architecture gives the same text.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    if (items.length > 1 && items.every(i => isObject(i) && typeof i.id === 'string')) {
      return [...items].sort((a, b) => compare((a as Diagram).id as string, (b as Diagram).id as string));
    }
    return items;
  }
  if (isObject(value)) {
    return Object.fromEntries(Object.keys(value).sort(compare).map(k => [k, canonical(value[k])]));
  }
  return value;
}

/** The diagram's hash: SHA-256 of its canonical JSON without the bookkeeping fields, in hex. */
export function diagramHash(diagram: Diagram): string {
  const architecture = Object.fromEntries(Object.entries(diagram).filter(([k]) => !BOOKKEEPING_FIELDS.includes(k)));
  return createHash('sha256').update(canonicalJson(architecture)).digest('hex');
}

/** The components of a diagram: id to type (a component without a type counts as "unknown"). */
export function componentsOf(diagram: Diagram | undefined): Map<string, string> {
  const components = new Map<string, string>();
  if (!diagram) return components;
  for (const list of COMPONENT_LISTS) {
    const items = diagram[list];
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (isObject(item) && typeof item.id === 'string') {
        components.set(item.id, typeof item.type === 'string' && item.type !== '' ? item.type : list === 'edges' ? 'edge' : 'unknown');
      }
    }
  }
  return components;
}

/** What changed, by component type: how many of each type were added and removed. */
export interface DiagramChange {
  readonly added: Record<string, number>;
  readonly removed: Record<string, number>;
}

export function diagramChange(before: Diagram | undefined, after: Diagram): DiagramChange {
  const old = componentsOf(before);
  const now = componentsOf(after);
  const added: Record<string, number> = {};
  const removed: Record<string, number> = {};
  for (const [id, type] of now) if (!old.has(id)) added[type] = (added[type] ?? 0) + 1;
  for (const [id, type] of old) if (!now.has(id)) removed[type] = (removed[type] ?? 0) + 1;
  return { added: sorted(added), removed: sorted(removed) };
}

function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(counts).sort(compare).map(k => [k, counts[k]]));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}
