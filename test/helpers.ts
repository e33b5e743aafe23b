import { runSimulation } from '@cloud-copilot/iam-simulate';
import { App, Stack, StackProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudcraftRole, CloudcraftRoleProps } from '../lib';

export const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const CLOUDCRAFT_ACCOUNT = '968898580625';
export const TARGET_ACCOUNT = '111122223333';

export interface RoleFixture {
  readonly app: App;
  readonly stack: Stack;
  readonly construct: CloudcraftRole;
  readonly template: Template;
}

/** Synthesizes one CloudcraftRole in a fresh stack. */
export function synthRole(props: Partial<CloudcraftRoleProps> = {}, stackProps: StackProps = {}, context: Record<string, unknown> = {}): RoleFixture {
  const app = new App({ context });
  const stack = new Stack(app, 'TestStack', stackProps);
  const construct = new CloudcraftRole(stack, 'Cloudcraft', { externalId: EXTERNAL_ID, ...props });
  return { app, stack, construct, template: Template.fromStack(stack) };
}

/**
 * Resolves the intrinsics CDK writes into IAM documents (Ref, Fn::GetAtt as "Logical.Attribute", Fn::Join), as
 * CloudFormation would for one deployment, so that the result can be given to an IAM engine.
 */
export function resolveCfn(value: unknown, refs: Record<string, string>): any {
  if (Array.isArray(value)) return value.map(v => resolveCfn(v, refs));
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'Ref') {
      const name = obj.Ref as string;
      if (!(name in refs)) throw new Error(`resolveCfn: no value for Ref ${name}`);
      return refs[name];
    }
    if (keys.length === 1 && keys[0] === 'Fn::Join') {
      const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map(p => resolveCfn(p, refs)).join(sep);
    }
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const name = (obj['Fn::GetAtt'] as string[]).join('.');
      if (!(name in refs)) throw new Error(`resolveCfn: no value for GetAtt ${name}`);
      return refs[name];
    }
    if (keys.length === 1 && keys[0].startsWith('Fn::')) throw new Error(`resolveCfn: ${keys[0]} is not supported`);
    return Object.fromEntries(keys.map(k => [k, resolveCfn(obj[k], refs)]));
  }
  return value;
}

export const AWS_REFS = { 'AWS::Partition': 'aws', 'AWS::AccountId': TARGET_ACCOUNT, 'AWS::Region': 'us-east-1', 'AWS::URLSuffix': 'amazonaws.com' };

/** The single resource of a type in a template, failing if there is not exactly one. */
export function onlyResource(template: Template, type: string): { logicalId: string; Properties: any } {
  const found = template.findResources(type);
  const ids = Object.keys(found);
  if (ids.length !== 1) throw new Error(`expected exactly one ${type}, found ${ids.length}`);
  return { logicalId: ids[0], Properties: found[ids[0]].Properties };
}

/** A Fn::Join / Ref value as CloudFormation would resolve it with these parameter values (lists for list parameters). */
export function resolveWith(node: any, values: Record<string, string | string[]>): any {
  if (typeof node === 'string') return node;
  if (node.Ref !== undefined) {
    if (!(node.Ref in values)) return `<${node.Ref}>`;
    return values[node.Ref];
  }
  if (node['Fn::Join']) {
    const [sep, parts] = node['Fn::Join'];
    const resolved = Array.isArray(parts) ? parts.flatMap((p: any) => resolveWith(p, values)) : resolveWith(parts, values);
    return resolved.join(sep);
  }
  throw new Error(`cannot resolve ${JSON.stringify(node)}`);
}

/**
 * Resolves a whole property value (objects and arrays too) as CloudFormation would: Ref and Fn::GetAtt from `values`
 * (a placeholder `<name>` for those not given), Fn::Join.
 */
export function resolveDeep(node: any, values: Record<string, string | string[]>): any {
  if (Array.isArray(node)) return node.map(n => resolveDeep(n, values));
  if (!node || typeof node !== 'object') return node;
  if (node.Ref !== undefined) return values[node.Ref] ?? `<${node.Ref}>`;
  if (node['Fn::GetAtt'] !== undefined) {
    const name = [node['Fn::GetAtt']].flat().join('.');
    return values[name] ?? `<${name}>`;
  }
  if (node['Fn::Join']) {
    const [sep, parts] = node['Fn::Join'];
    return [resolveDeep(parts, values)].flat().join(sep);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolveDeep(v, values)]));
}

export interface SimulatedRequest {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** The account the resource is in. */
  readonly accountId: string;
  /** Context keys; a multivalued key (ArrayOfString) as a list. */
  readonly context?: Record<string, string | string[]>;
}

type NamedPolicy = { name: string; policy: unknown };

/**
 * What the IAM policy engine (@cloud-copilot/iam-simulate) decides for one request: 'Allowed', 'ImplicitlyDenied'
 * or 'ExplicitlyDenied', under the caller's identity policies, the resource's policy and the caller's permissions
 * boundary, if any.
 */
export async function simulate(request: SimulatedRequest,
  policies: { identity?: NamedPolicy[]; resource?: unknown; boundary?: NamedPolicy[] } = {}): Promise<string> {
  const result: any = await runSimulation({
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context ?? {},
    },
    identityPolicies: policies.identity ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(policies.resource ? { resourcePolicy: policies.resource } : {}),
    ...(policies.boundary ? { permissionBoundaryPolicies: policies.boundary } : {}),
  } as any, {});
  if (result.resultType === 'error') throw new Error(`${request.action}: ${JSON.stringify(result.errors).slice(0, 2000)}`);
  return result.overallResult;
}
