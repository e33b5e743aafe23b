import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * A rule finding that the construct raises on purpose, with the reason. `id` is the finding as cdk-nag 3 names
 * it: `RuleId` or `RuleId[FindingId]` (for example `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]`).
 */
export interface Acknowledgement {
  readonly id: string;
  readonly reason: string;
}

/**
 * Acknowledges findings on one construct through aws-cdk-lib's `Validations` API, which cdk-nag 3 reads.
 * Without cdk-nag (or any validation plugin) this only records construct metadata: it changes no template.
 * The library never imports cdk-nag.
 */
export function acknowledge(scope: IConstruct, acknowledgements: Acknowledgement[]): void {
  for (const ack of acknowledgements) {
    if (ack.reason.trim().length < 20) {
      // Guard for maintainers: every acknowledgement must carry a real reason.
      throw new Error(`Acknowledgement ${ack.id} on ${scope.node.path} has no real reason`);
    }
  }
  if (acknowledgements.length > 0) {
    Validations.of(scope).acknowledge(...acknowledgements);
  }
}
