import minimalPolicy from './policies/cloudcraft-minimal-policy.2025-01.json';

/**
 * Cloudcraft's minimal IAM policy, vendored from GET /aws/account/iamParameters/policy/minimal as of January 2025.
 * Cloudcraft changes it without publishing versions; the date is the version.
 */
export const MINIMAL_POLICY_VERSION = '2025-01';

/** IAM's limit for one customer managed policy document, in characters, whitespace not counted. */
export const MANAGED_POLICY_MAX_CHARS = 6144;

/**
 * Policies are measured as if deployed in the partition with the longest name, so a document that fits here
 * fits in every partition the role can be deployed to.
 */
const LONGEST_PARTITION = 'aws-us-gov';

export interface StatementJson {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: string | string[];
}

export interface PolicyJson {
  readonly Version: string;
  readonly Statement: StatementJson[];
}

/** The vendored minimal policy, as Cloudcraft publishes it (resources in the `aws` partition). */
export function minimalPolicyJson(): PolicyJson {
  return minimalPolicy as PolicyJson;
}

/** Characters IAM counts for a policy document (JSON without whitespace), in the longest partition. */
export function policyChars(statements: StatementJson[]): number {
  const json = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  return json.split('arn:aws:').join(`arn:${LONGEST_PARTITION}:`).length;
}

/**
 * Packs statements into as few documents as possible, each at most `maxChars` characters. A statement whose
 * actions do not fit in the remaining room is split by actions (same effect and resources), so a growing
 * vendored policy splits into more managed policies instead of failing at deploy time.
 */
export function packStatements(statements: StatementJson[], maxChars: number = MANAGED_POLICY_MAX_CHARS): StatementJson[][] {
  const documents: StatementJson[][] = [];
  let current: StatementJson[] = [];

  const fits = (candidate: StatementJson[]) => policyChars(candidate) <= maxChars;
  const flush = () => {
    if (current.length > 0) documents.push(current);
    current = [];
  };

  for (const statement of statements) {
    let remaining = [...statement.Action];
    while (remaining.length > 0) {
      // The longest prefix of the remaining actions that still fits next to what the document already holds.
      let take = 0;
      while (take < remaining.length && fits([...current, { ...statement, Action: remaining.slice(0, take + 1) }])) {
        take++;
      }
      if (take === 0) {
        if (current.length === 0) {
          throw new Error(`A statement with the single action ${remaining[0]} does not fit in ${maxChars} characters`);
        }
        flush();
        continue;
      }
      current.push({ ...statement, Action: remaining.slice(0, take) });
      remaining = remaining.slice(take);
      if (remaining.length > 0) flush();
    }
  }
  flush();
  return documents;
}
