/**
 * The live policy's AWS I/O through the AWS SDK v3 of the Lambda runtime, each client loaded on first use
 * (AWS_ENDPOINT_URL_IAM / _SSM / _EVENTBRIDGE point them at local stand-ins in tests):
 * - the check's state: an SSM String parameter the construct creates (GetParameter, PutParameter with Overwrite:
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html);
 * - the role's inline policy: GetRolePolicy answers the document URL-encoded (RFC 3986), hence the decoding
 *   (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html); PutRolePolicy replaces a policy of
 *   the same name (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html); DeleteRolePolicy
 *   answers NoSuchEntity when there is none.
 */
import { LivePolicyIo } from './apply';
import { sdkPutEvent } from '../../runtime/events';
import type { PolicyCheckState } from '../../runtime/policy-check';

/* eslint-disable @typescript-eslint/no-require-imports */
export function sdkLivePolicyIo(): LivePolicyIo {
  let iam: import('@aws-sdk/client-iam').IAMClient | undefined;
  let ssm: import('@aws-sdk/client-ssm').SSMClient | undefined;
  const iamOf = () => {
    const sdk = require('@aws-sdk/client-iam') as typeof import('@aws-sdk/client-iam');
    iam ??= new sdk.IAMClient({ maxAttempts: 5 });
    return { sdk, client: iam };
  };
  const ssmOf = () => {
    const sdk = require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm');
    ssm ??= new sdk.SSMClient({ maxAttempts: 5 });
    return { sdk, client: ssm };
  };
  const missing = (err: unknown) => (err as { name?: string }).name === 'NoSuchEntityException' || (err as { name?: string }).name === 'NoSuchEntity';
  return {
    putEvent: sdkPutEvent(),
    async readState(parameter) {
      const { sdk, client } = ssmOf();
      const out = await client.send(new sdk.GetParameterCommand({ Name: parameter }));
      try {
        const state = JSON.parse(out.Parameter?.Value ?? '{}');
        return state && typeof state === 'object' ? state as PolicyCheckState : undefined;
      } catch {
        return undefined;
      }
    },
    async writeState(parameter, state) {
      const { sdk, client } = ssmOf();
      await client.send(new sdk.PutParameterCommand({ Name: parameter, Value: JSON.stringify(state), Type: 'String', Overwrite: true }));
    },
    async getRolePolicy(roleName, policyName) {
      const { sdk, client } = iamOf();
      try {
        const out = await client.send(new sdk.GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
        return out.PolicyDocument ? JSON.parse(decodeURIComponent(out.PolicyDocument)) : undefined;
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },
    async putRolePolicy(roleName, policyName, document) {
      const { sdk, client } = iamOf();
      await client.send(new sdk.PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(document) }));
    },
    async deleteRolePolicy(roleName, policyName) {
      const { sdk, client } = iamOf();
      try {
        await client.send(new sdk.DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
        return 'deleted';
      } catch (err) {
        if (missing(err)) return 'gone';
        throw err;
      }
    },
  };
}
