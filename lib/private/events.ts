import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EVENT_SOURCE } from '../runtime/events';

/**
 * Lets `role` put the library's events of `detailType` on its account's default bus, and no other event: the
 * statement's conditions hold every entry of a PutEvents call to the library's source and this detail-type
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html). The keys are multivalued (a call
 * carries several entries): every entry must be its own, and the keys present
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
 */
export function allowPutEvent(role: iam.IRole, sid: string, detailType: string): void {
  const stack = Stack.of(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid,
    actions: ['events:PutEvents'],
    resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
    conditions: {
      'ForAllValues:StringEquals': { 'events:source': [EVENT_SOURCE], 'events:detail-type': [detailType] },
      'Null': { 'events:source': 'false', 'events:detail-type': 'false' },
    },
  }));
}
