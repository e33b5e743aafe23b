import { Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { isApiUrl } from '../runtime/api-url';

/**
 * Synth-time validation helpers. Every check skips values that are unresolved tokens (they are only known at
 * deploy time), and every error names the construct, the prop, the bad value and the fix.
 */

/** Cloudcraft's production AWS account (the principal of the trust policy). */
export const CLOUDCRAFT_AWS_ACCOUNT_ID = '968898580625';

const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ACCOUNT_ID = /^\d{12}$/;
// IAM RoleName: 1-64 characters of [\w+=,.@-].
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
// IAM Path: "/" or "/" + printable ASCII (0x21-0x7E) + "/", at most 512 characters.
const ROLE_PATH = /^(\/|\/[\x21-\x7E]+\/)$/;

export class CloudcraftValidationError extends Error {
  constructor(scope: IConstruct, prop: string, value: unknown, problem: string, fix: string) {
    super(`${scope.node.path}: ${prop} ${JSON.stringify(value)} ${problem}. ${fix}`);
    this.name = 'CloudcraftValidationError';
  }
}

function known(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

export function validateExternalId(scope: IConstruct, prop: string, value: string): void {
  if (!known(value)) return;
  if (!LOWERCASE_UUID.test(value)) {
    const hint = LOWERCASE_UUID.test(value.toLowerCase()) ? ' (it is a UUID, but not in lowercase)' : '';
    throw new CloudcraftValidationError(scope, prop, value,
      `is not a lowercase UUID such as "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"${hint}`,
      'Use the External ID that Cloudcraft shows for the user who owns the API key (Cloudcraft: Add AWS account, or GET /aws/account/iamParameters), exactly as shown.');
  }
}

export function validateAccountId(scope: IConstruct, prop: string, value: string): void {
  if (!known(value)) return;
  if (!ACCOUNT_ID.test(value)) {
    throw new CloudcraftValidationError(scope, prop, value, 'is not a 12-digit AWS account ID',
      `Leave it out to use Cloudcraft's account ${CLOUDCRAFT_AWS_ACCOUNT_ID}, or give the "accountId" that GET /aws/account/iamParameters returns.`);
  }
}

export function validateRoleName(scope: IConstruct, prop: string, value: string | undefined): void {
  if (!known(value)) return;
  if (!ROLE_NAME.test(value)) {
    const problem = value.length === 0 || value.length > 64
      ? `is ${value.length} characters long; IAM role names are 1 to 64 characters`
      : 'has characters IAM does not allow in a role name (allowed: letters, digits and + = , . @ _ -)';
    throw new CloudcraftValidationError(scope, prop, value, problem,
      'Choose a valid IAM role name, or leave it out for the default "cloudcraft".');
  }
}

export function validateRolePath(scope: IConstruct, prop: string, value: string | undefined): void {
  if (!known(value)) return;
  if (value.length > 512 || !ROLE_PATH.test(value)) {
    throw new CloudcraftValidationError(scope, prop, value,
      'is not a valid IAM path (it must be "/" or start and end with "/", at most 512 printable ASCII characters, no spaces)',
      'Use a path such as "/cloudcraft/", or leave it out for "/".');
  }
}

/**
 * Refuses the China partition, which Cloudcraft does not support, when the partition is known at synth time
 * (a stack with a concrete region). An environment-agnostic stack deployed to China fails at deploy time:
 * Cloudcraft's account does not exist in the aws-cn partition, so IAM rejects the trust policy.
 */
export function validatePartition(scope: IConstruct): void {
  const stack = Stack.of(scope);
  const partition = known(stack.partition) ? stack.partition
    : known(stack.region) ? RegionInfo.get(stack.region).partition : undefined;
  if (partition === undefined) return;
  if (partition === 'aws-cn') {
    throw new CloudcraftValidationError(scope, 'the stack partition', partition,
      'is not supported: Cloudcraft cannot read AWS accounts in the China regions',
      'Deploy the Cloudcraft role to a stack in the "aws" partition (or "aws-us-gov" with Cloudcraft Enterprise).');
  }
}

export function validateApiUrl(scope: IConstruct, apiUrl: string): void {
  if (Token.isUnresolved(apiUrl)) return;
  // The handler's own rule (runtime/api-url), so that synth refuses exactly what the handler would.
  if (!isApiUrl(apiUrl)) {
    throw new CloudcraftValidationError(scope, 'apiUrl', apiUrl, 'is not an https:// URL',
      'Leave it out for https://api.cloudcraft.co, or give the https:// base URL Cloudcraft support gave you.');
  }
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;

/** One region check for every construct: an AWS region name Cloudcraft can use (not China). */
export function validateRegion(scope: IConstruct, prop: string, value: string | undefined, fix: string): void {
  if (!known(value)) return;
  if (!REGION.test(value) || value.startsWith('cn-')) {
    throw new CloudcraftValidationError(scope, prop, value, 'is not an AWS region Cloudcraft can use', fix);
  }
}

/** Lambda: 4 KB for all environment variables of a function (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). */
export const MAX_ENVIRONMENT_BYTES = 4_096;

/**
 * A function's one environment variable `name`, holding `value` as JSON; refused at synth when it would pass Lambda's
 * limit (tokens counted as the intrinsics that stand for them), naming the prop that makes it large and the fix.
 */
export function functionEnvironment(scope: IConstruct, name: string, value: unknown, blame: { prop: string; value: unknown; fix: string }): string {
  const stack = Stack.of(scope);
  const json = stack.toJsonString(value);
  const bytes = Buffer.byteLength(name) + Buffer.byteLength(JSON.stringify(stack.resolve(json)));
  if (bytes > MAX_ENVIRONMENT_BYTES) {
    throw new CloudcraftValidationError(scope, blame.prop, blame.value,
      `makes the function's environment ${bytes} bytes, over Lambda's ${MAX_ENVIRONMENT_BYTES}-byte limit for all variables of a function`, blame.fix);
  }
  return json;
}
