import { Aws, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DENIED_DATA_READS } from './data-read-deny';
import { MANAGED_POLICY_MAX_CHARS, MINIMAL_POLICY_VERSION, minimalPolicyJson, packStatements, StatementJson } from './minimal-policy';
import { Acknowledgement, acknowledge } from '../private/acknowledge';
import { LivePolicyUse } from '../private/live-policy-use';
import { CloudcraftValidationError } from '../private/validate';

/**
 * Options for `CloudcraftAccess.readOnlyAccess()`.
 */
export interface ReadOnlyAccessOptions {
  /**
   * Add an explicit deny of data-plane reads that `ReadOnlyAccess` allows but a diagram never needs: object
   * contents, secret and parameter values, table items, queue and stream records, log events, image layers and
   * source code. The role can still draw the whole account. The list, with a reason for each action, is in the
   * README ("Diagram-only access").
   *
   * @default false - the role gets exactly AWS `ReadOnlyAccess`, as Cloudcraft's console sets it up
   */
  readonly denyDataReads?: boolean;
}

/**
 * Options for `CloudcraftAccess.minimal()`.
 */
export interface MinimalAccessOptions {
  /**
   * Read Cloudcraft's current minimal policy once a day and report when it differs from the role's: a warning listing
   * the actions added and removed, the `PolicyDrift` metric, and a `Cloudcraft Policy Changed` event on the default
   * bus (source `cdk-cloudcraft`). One request a day to Cloudcraft, within the key's pacing. Done by the function of a
   * `CloudcraftIntegration` (on a daily schedule) or by the registrar of a `CloudcraftOrganizationIntegration`; a
   * `CloudcraftRole` on its own has no API key to read it with.
   *
   * @default true
   */
  readonly checkLivePolicy?: boolean;

  /**
   * Keep the role's permissions equal to Cloudcraft's current minimal policy, without a redeploy: the integration's
   * function reads it at deploy time and on the daily check, and applies it as the role's inline policy. The role gets
   * AWS `ReadOnlyAccess` as its permissions boundary and the explicit deny of data-plane reads of
   * `readOnlyAccess({ denyDataReads: true })`, so whatever the answer holds, the role never exceeds reading the
   * account's configuration.
   * When the policy cannot be read at deploy time, the vendored copy is applied. Only with `CloudcraftIntegration`
   * (one account): in an Organization the member accounts have no function, and the registrar gets no IAM rights there.
   *
   * @default false - the vendored policy, as customer managed policies
   */
  readonly followLivePolicy?: boolean;
}

/**
 * What the Cloudcraft role may read, chosen with one of the static factories.
 */
export abstract class CloudcraftAccess {
  /**
   * The version (month of the snapshot) of Cloudcraft's minimal policy that `minimal()` deploys.
   */
  public static readonly MINIMAL_POLICY_VERSION: string = MINIMAL_POLICY_VERSION;

  /**
   * The AWS managed policy `ReadOnlyAccess`: Cloudcraft's default, and the only choice that keeps working
   * when Cloudcraft starts drawing a new service.
   */
  public static readOnlyAccess(options: ReadOnlyAccessOptions = {}): CloudcraftAccess {
    return new ReadOnlyAccessGrant(options.denyDataReads ?? false);
  }

  /**
   * Cloudcraft's minimal policy (per-action reads, vendored in this library, see `MINIMAL_POLICY_VERSION`),
   * as one or more customer managed policies that each stay under IAM's 6,144-character limit.
   * Cloudcraft shows "Limited AWS access" when it needs an action this version lacks: the daily check reports it
   * (`checkLivePolicy`), and `followLivePolicy` applies it.
   */
  public static minimal(options: MinimalAccessOptions = {}): CloudcraftAccess {
    return new MinimalGrant(options.followLivePolicy ?? false, options.checkLivePolicy ?? true);
  }

  /**
   * Your own policy document, as one customer managed policy.
   */
  public static fromPolicyDocument(document: iam.PolicyDocument): CloudcraftAccess {
    return new DocumentGrant(document);
  }

  /**
   * Managed policies that exist already (AWS managed or your own), attached as they are.
   */
  public static fromManagedPolicies(...policies: iam.IManagedPolicy[]): CloudcraftAccess {
    return new ManagedPoliciesGrant(policies);
  }

  /**
   * A short description of this access, for logs and policy descriptions.
   */
  public abstract readonly description: string;

  protected constructor() {}

  /**
   * Creates the policies in `scope` and returns what to attach to the role, with the findings to acknowledge.
   * @internal
   */
  public abstract _bind(scope: Construct): AccessBinding;

  /**
   * How this access uses Cloudcraft's live policy.
   * @internal
   */
  public _livePolicy(): LivePolicyUse {
    return 'none';
  }
}

/** @internal */
export interface AccessBinding {
  readonly managedPolicies: iam.IManagedPolicy[];
  /** A permissions boundary the access needs (followLivePolicy: ReadOnlyAccess). */
  readonly permissionsBoundary?: iam.IManagedPolicy;
  /** Findings raised on the role by this access, each with the reason it is deliberate. */
  readonly roleAcknowledgements: Acknowledgement[];
}

/** Replaces the `aws` partition of ARNs written in the vendored JSON with the deploying stack's partition. */
function withStackPartition(statement: StatementJson): StatementJson {
  const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return {
    ...statement,
    Resource: resources.map(r => r.startsWith('arn:aws:') ? `arn:${Aws.PARTITION}:${r.slice('arn:aws:'.length)}` : r),
  };
}

function findingsForResources(rule: string, statements: StatementJson[], reason: string): Acknowledgement[] {
  const resources = new Set<string>();
  for (const s of statements) {
    for (const r of Array.isArray(s.Resource) ? s.Resource : [s.Resource]) {
      if (r.includes('*')) resources.add(r.replace(/^arn:aws:/, 'arn:<AWS::Partition>:'));
    }
  }
  return [...resources].map(r => ({ id: `${rule}[Resource::${r}]`, reason }));
}

/** The explicit deny of data-plane reads that ReadOnlyAccess allows and a diagram never needs. */
function denyDataReadsPolicy(scope: Construct): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, 'DenyDataReads', {
    description: 'cdk-cloudcraft: denies the Cloudcraft role data-plane reads that ReadOnlyAccess allows and a diagram never needs (object contents, secret and parameter values, table items, queue and stream records, log events, images, source code).',
    document: new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({
        sid: 'DenyDataPlaneReads',
        effect: iam.Effect.DENY,
        actions: DENIED_DATA_READS.map(d => d.action),
        resources: ['*'],
      })],
    }),
  });
}

class ReadOnlyAccessGrant extends CloudcraftAccess {
  public readonly description: string;

  constructor(private readonly denyDataReads: boolean) {
    super();
    this.description = denyDataReads ? 'ReadOnlyAccess without data-plane reads' : 'ReadOnlyAccess';
  }

  public _bind(scope: Construct): AccessBinding {
    const managedPolicies: iam.IManagedPolicy[] = [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')];
    if (this.denyDataReads) managedPolicies.push(denyDataReadsPolicy(scope));
    return {
      managedPolicies,
      roleAcknowledgements: [{
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]',
        reason: 'Chosen with CloudcraftAccess.readOnlyAccess(): AWS ReadOnlyAccess is the policy Cloudcraft documents as its default, and AWS keeps it current as Cloudcraft learns to draw new services. Use CloudcraftAccess.minimal() for a customer managed policy instead.',
      }],
    };
  }
}

class MinimalGrant extends CloudcraftAccess {
  public readonly description: string;

  constructor(private readonly follow: boolean, private readonly check: boolean) {
    super();
    this.description = follow ? 'Cloudcraft minimal policy, following the live policy under a ReadOnlyAccess boundary'
      : `Cloudcraft minimal policy ${MINIMAL_POLICY_VERSION}`;
  }

  public _livePolicy(): LivePolicyUse {
    return this.follow ? 'follow' : this.check ? 'check' : 'none';
  }

  public _bind(scope: Construct): AccessBinding {
    if (this.follow) {
      // The permissions are the inline policy the integration's function applies; the boundary caps them at reads, and
      // the explicit deny keeps data-plane reads (object contents, secret values, ...) out whatever Cloudcraft answers.
      return {
        managedPolicies: [denyDataReadsPolicy(scope)],
        permissionsBoundary: iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
        roleAcknowledgements: [],
      };
    }
    const documents = packStatements(minimalPolicyJson().Statement);
    const managedPolicies = documents.map((statements, i) => {
      const policy = new iam.ManagedPolicy(scope, `MinimalPolicy${i + 1}`, {
        description: `cdk-cloudcraft: Cloudcraft minimal read-only policy, version ${MINIMAL_POLICY_VERSION}, part ${i + 1} of ${documents.length}.`,
        document: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: statements.map(withStackPartition) }),
      });
      acknowledge(policy, findingsForResources('AwsSolutions-IAM5', statements,
        'Cloudcraft minimal policy: List and Describe calls that enumerate resources cannot be scoped to resource ARNs, and API Gateway reads are scoped to the API Gateway resource paths Cloudcraft documents. Every action is a List or Read action.'));
      return policy;
    });
    return { managedPolicies, roleAcknowledgements: [] };
  }
}

class DocumentGrant extends CloudcraftAccess {
  public readonly description = 'custom policy document';

  constructor(private readonly document: iam.PolicyDocument) {
    super();
  }

  public _bind(scope: Construct): AccessBinding {
    if (this.document.isEmpty) {
      throw new CloudcraftValidationError(scope, 'access (CloudcraftAccess.fromPolicyDocument)', 'an empty PolicyDocument',
        'grants nothing, so Cloudcraft could not read the account',
        'Add statements to the document, or use CloudcraftAccess.readOnlyAccess() or CloudcraftAccess.minimal().');
    }
    const json = JSON.stringify(this.document.toJSON());
    if (!Token.isUnresolved(json) && json.length > MANAGED_POLICY_MAX_CHARS) {
      throw new CloudcraftValidationError(scope, 'access (CloudcraftAccess.fromPolicyDocument)', `a document of ${json.length} characters`,
        `exceeds IAM's limit of ${MANAGED_POLICY_MAX_CHARS} characters for one managed policy`,
        'Split it into several ManagedPolicy constructs and pass them with CloudcraftAccess.fromManagedPolicies().');
    }
    return {
      managedPolicies: [new iam.ManagedPolicy(scope, 'Policy', {
        description: 'cdk-cloudcraft: custom access policy of the Cloudcraft role.',
        document: this.document,
      })],
      roleAcknowledgements: [],
    };
  }
}

class ManagedPoliciesGrant extends CloudcraftAccess {
  public readonly description = 'managed policies';

  constructor(private readonly policies: iam.IManagedPolicy[]) {
    super();
  }

  public _bind(scope: Construct): AccessBinding {
    if (this.policies.length === 0 || this.policies.length > 10) {
      throw new CloudcraftValidationError(scope, 'access (CloudcraftAccess.fromManagedPolicies)', `${this.policies.length} policies`,
        'is not between 1 and 10 (the IAM default quota of managed policies per role)',
        'Pass at least one managed policy and at most ten.');
    }
    return { managedPolicies: [...this.policies], roleAcknowledgements: [] };
  }
}
