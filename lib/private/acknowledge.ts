import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
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
 * Acknowledges findings on one construct, for both generations of cdk-nag, without depending on either:
 * - cdk-nag 3 reads aws-cdk-lib's `Validations` acknowledgements;
 * - cdk-nag 2 reads `cdk_nag` metadata (`rules_to_suppress`: `id`, `reason`, `applies_to` for the finding) on the
 *   CloudFormation resource it checks: the construct's own resource (its default child).
 * Without cdk-nag (or any validation plugin) this only records construct metadata: it changes no template.
 */
export function acknowledge(scope: IConstruct, acknowledgements: Acknowledgement[]): void {
  for (const ack of acknowledgements) {
    if (ack.reason.trim().length < 20) {
      // Guard for maintainers: every acknowledgement must carry a real reason.
      throw new Error(`Acknowledgement ${ack.id} on ${scope.node.path} has no real reason`);
    }
  }
  if (acknowledgements.length === 0) return;
  Validations.of(scope).acknowledge(...acknowledgements);

  const resource = CfnResource.isCfnResource(scope) ? scope
    : scope.node.defaultChild && CfnResource.isCfnResource(scope.node.defaultChild) ? scope.node.defaultChild : undefined;
  if (!resource) return;
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  const added = acknowledgements.map(ack => {
    const match = /^([^[]+)\[(.+)\]$/.exec(ack.id);
    return match ? { id: match[1], reason: ack.reason, applies_to: [match[2]] } : { id: ack.id, reason: ack.reason };
  });
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...added] });
}

/**
 * A value (an ARN, say) as cdk-nag names it in a finding ID: resolved in its stack, each reference written
 * `<Name>` (`<AWS::Partition>`, `<Res.Arn>`), joins joined. Whatever form the stack gives it (a concrete region and
 * `@aws-cdk/core:enablePartitionLiterals` make literals of what is otherwise a reference), the finding is named the
 * way cdk-nag will see it.
 */
export function findingForm(scope: IConstruct, value: string): string {
  const render = (node: unknown): string => {
    if (typeof node === 'string') return node;
    const n = node as Record<string, unknown>;
    if (n && typeof n.Ref === 'string') return `<${n.Ref}>`;
    if (n && Array.isArray(n['Fn::GetAtt'])) return `<${(n['Fn::GetAtt'] as string[]).join('.')}>`;
    if (n && Array.isArray(n['Fn::Join'])) {
      const [separator, parts] = n['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    return JSON.stringify(node);
  };
  return render(Stack.of(scope).resolve(value));
}
