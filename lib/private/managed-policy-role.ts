import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * A role that keeps the permissions granted to it (`secret.grantRead(role)`, ...) in one customer managed policy
 * instead of an inline default policy (NIST 800-53 / HIPAA / PCI IAMNoInlinePolicy).
 */
export class ManagedPolicyRole extends iam.Role {
  private policy?: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: iam.RoleProps, private readonly policyDescription: string) {
    super(scope, id, props);
  }

  /** The managed policy that holds the grants (created on the first grant). */
  public get grantsPolicy(): iam.ManagedPolicy | undefined {
    return this.policy;
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    if (!this.policy) {
      // Attached from the policy's side (its Roles list), so the policy depends on the role and not the other way:
      // a key policy that names this role cannot then form a cycle (key -> role -> policy -> secret -> key).
      this.policy = new iam.ManagedPolicy(this, 'Policy', { description: this.policyDescription, roles: [this] });
    }
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }
}
