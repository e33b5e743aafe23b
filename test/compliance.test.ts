/**
 * Independent rule engines on the example stack, for every access option:
 * - cdk-nag 3 packs (AwsSolutions, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1, Serverless): zero
 *   unacknowledged findings, every acknowledgement with a reason, and no acknowledgement without a finding;
 * - aws-cdk-lib's CloudFormation schema validation, as errors (@aws-cdk/core:validateAgainstDefaultRules).
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { CloudcraftExampleStack } from '../examples/cloudcraft-example-stack';
import { CloudcraftAccess, CloudcraftRole } from '../lib';

const PACKS = [AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks, ServerlessChecks];

const ACCESS_OPTIONS: Array<[string, () => CloudcraftAccess]> = [
  ['readOnlyAccess()', () => CloudcraftAccess.readOnlyAccess()],
  ['readOnlyAccess({ denyDataReads: true })', () => CloudcraftAccess.readOnlyAccess({ denyDataReads: true })],
  ['minimal()', () => CloudcraftAccess.minimal()],
  ['fromPolicyDocument()', () => CloudcraftAccess.fromPolicyDocument(new iam.PolicyDocument({
    statements: [new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:GetBucketTagging'], resources: ['arn:aws:s3:::diagrams-bucket'] })],
  }))],
];

function exampleStack(access: () => CloudcraftAccess, context: Record<string, unknown> = {}): { app: App; stack: Stack } {
  const app = new App({ context });
  const stack = new CloudcraftExampleStack(app, 'CloudcraftExampleStack', { access: access() });
  return { app, stack };
}

/** Every finding of every pack, as "RuleId[Finding] @ construct path". */
function findings(stack: Stack): string[] {
  return PACKS.flatMap(Pack => {
    const report = new Pack().validateScope(stack);
    return report.violations.flatMap(v => v.violatingResources.map(r => `${v.ruleName} @ ${r.constructPath}`));
  }).sort();
}

describe.each(ACCESS_OPTIONS)('example stack with %s', (_name, access) => {
  test('cdk-nag packs report zero unacknowledged findings', () => {
    const { stack } = exampleStack(access);
    expect(findings(stack)).toEqual([]);
  });

  test('cdk-nag as a synthesis plugin passes (the way users run it)', () => {
    const { app } = exampleStack(access);
    Validations.of(app).addPlugins(...PACKS.map(Pack => new Pack()));
    expect(() => app.synth()).not.toThrow();
  });

  test('every acknowledgement carries a reason and matches a finding that is raised without it', () => {
    const spy = jest.spyOn(Validations.prototype, 'acknowledge');
    let acknowledged: string[];
    try {
      const { stack } = exampleStack(access);
      acknowledged = spy.mock.contexts.flatMap((ctx, i) => {
        const scopePath = (ctx as any).scope.node.path as string;
        return spy.mock.calls[i].map(ack => {
          expect(ack.reason.length).toBeGreaterThan(40);
          return { id: ack.id, scopePath };
        });
      }).map(a => `${a.id} @ ${a.scopePath}`);
      expect(findings(stack)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    // The same stack with acknowledgements switched off: the findings are exactly the ones we acknowledged
    // (on the acknowledging construct or its CloudFormation resource below it).
    const noop = jest.spyOn(Validations.prototype, 'acknowledge').mockImplementation(() => undefined);
    try {
      const raised = findings(exampleStack(access).stack);
      expect(raised.length).toBe(acknowledged.length);
      for (const ack of acknowledged) {
        const [id, scopePath] = ack.split(' @ ');
        expect(raised).toContainEqual(expect.stringMatching(new RegExp(`^${escape(id)} @ ${escape(scopePath)}(/Resource)?$`)));
      }
    } finally {
      noop.mockRestore();
    }
  });

  test('CloudFormation schema validation as errors passes', () => {
    const { app } = exampleStack(access, { '@aws-cdk/core:validateAgainstDefaultRules': true });
    expect(() => app.synth()).not.toThrow();
  });
});

test('schema validation as errors is live: it rejects an invalid role', () => {
  const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
  const stack = new CloudcraftExampleStack(app, 'Broken');
  const role = stack.node.findAll().find(c => c instanceof iam.CfnRole) as iam.CfnRole;
  role.addPropertyOverride('MaxSessionDuration', 60);
  expect(() => app.synth()).toThrow(/MaxSessionDuration: 60 is less than the minimum of 3600/);
});

test('cdk-nag is live: an unacknowledged AWS managed policy is reported', () => {
  const app = new App();
  const stack = new Stack(app, 'Plain');
  new iam.Role(stack, 'R', {
    assumedBy: new iam.AccountPrincipal('968898580625'),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
  });
  expect(findings(stack)).toContainEqual(expect.stringMatching(/^AwsSolutions-IAM4\[Policy::.*ReadOnlyAccess\] @ Plain\/R\/Resource$/));
});

test('a wildcard in a custom document is the user\'s to acknowledge, on the CloudcraftRole construct', () => {
  const build = () => {
    const app = new App();
    const stack = new Stack(app, 'Custom');
    const cloudcraft = new CloudcraftRole(stack, 'Cloudcraft', {
      externalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
      access: CloudcraftAccess.fromPolicyDocument(new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({ actions: ['ec2:DescribeVpcs'], resources: ['*'] })],
      })),
    });
    return { stack, cloudcraft };
  };
  const plain = build();
  expect(findings(plain.stack)).toEqual(['AwsSolutions-IAM5[Resource::*] @ Custom/Cloudcraft/Policy/Resource']);
  const acked = build();
  Validations.of(acked.cloudcraft).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ec2:DescribeVpcs cannot be scoped to a resource' });
  expect(findings(acked.stack)).toEqual([]);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
