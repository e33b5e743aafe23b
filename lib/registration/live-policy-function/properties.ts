/**
 * The properties of Custom::CloudcraftLivePolicy and of the daily rule's event (contract.ts), parsed strictly from
 * what CloudFormation and EventBridge deliver (strings). Pure.
 */
import { LIVE_POLICY_NAME, LivePolicyResourceProperties } from './contract';
import { CommonProps, commonProps, PropertyError } from '../handler/properties';

export interface LivePolicyProps extends CommonProps {
  readonly mode: 'check' | 'follow';
  readonly roleName: string;
  readonly policyName: string;
  readonly stateParameter: string;
  readonly metricsNamespace: string;
  readonly partition: string;
}

export function parseLivePolicyProps(raw: Record<string, unknown> | undefined): LivePolicyProps {
  const value = (key: keyof LivePolicyResourceProperties): string => {
    const v = raw?.[key];
    if (typeof v !== 'string' || v.trim() === '') throw new PropertyError(`property ${key} is missing`);
    return v.trim();
  };
  const mode = value('Mode');
  if (mode !== 'check' && mode !== 'follow') throw new PropertyError(`property Mode must be check or follow, got ${JSON.stringify(mode)}`);
  const roleName = value('RoleName');
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html (RoleName: [\w+=,.@-]+, 1 to 64).
  if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) throw new PropertyError(`property RoleName ${JSON.stringify(roleName)} is not a role name`);
  const partition = value('Partition');
  if (!/^aws(-[a-z]+)*$/.test(partition)) throw new PropertyError(`property Partition ${JSON.stringify(partition)} is not an AWS partition`);
  return {
    ...commonProps(raw),
    mode,
    roleName,
    // Only ever this one: an event cannot name another inline policy.
    policyName: LIVE_POLICY_NAME,
    stateParameter: value('StateParameter'),
    metricsNamespace: value('MetricsNamespace'),
    partition,
  };
}
