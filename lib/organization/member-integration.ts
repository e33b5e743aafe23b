import { Aspects, Aws, CfnCondition, CfnResource, Fn, IAspect, Stack } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { MEMBER_HANDLER_ROLE_NAME } from './constants';
import { CloudcraftAccountNaming } from '../registration/account-naming';
import { CloudcraftApiKey } from '../registration/api-key';
import { CloudcraftIntegration } from '../registration/cloudcraft-integration';
import { CloudcraftRegistrationSettings } from '../registration/cloudcraft-registration';
import { CloudcraftHandler } from '../registration/handler-function';
import { CloudcraftRoleOptions } from '../role/cloudcraft-role';


/**
 * Options of the Cloudcraft integration of one Organization member account, shared by the member template and
 * the organization construct.
 */
export interface CloudcraftMemberOptions extends CloudcraftRoleOptions, CloudcraftRegistrationSettings {
  /**
   * How each account is named in Cloudcraft.
   *
   * @default CloudcraftAccountNaming.fromAlias() - the account's IAM alias (`aws-<account ID>` without one)
   */
  readonly accountNaming?: CloudcraftAccountNaming;

  /** Cloudcraft's API base URL. @default 'https://api.cloudcraft.co' */
  readonly apiUrl?: string;
}

/**
 * Properties of `CloudcraftMemberIntegration`.
 */
export interface CloudcraftMemberIntegrationProps extends CloudcraftMemberOptions {
  /** The API key (in an Organization: the shared secret of the management account). */
  readonly apiKey: CloudcraftApiKey;

  /**
   * The region where the account-wide pieces (role, handler, registration) are created. In any other region
   * the stack creates nothing, so a StackSet deployed to several regions still registers each account once.
   *
   * @default - no guard: created in whatever region the stack is deployed to
   */
  readonly homeRegion?: string;

  /**
   * The external ID of the Cloudcraft user who owns the key (read once in the management account).
   *
   * @default - read in each account at deploy time (one more Cloudcraft call per account)
   */
  readonly externalId?: string;
}

/** Sets a condition on every CloudFormation resource below the given scopes. */
class ConditionAspect implements IAspect {
  constructor(private readonly condition: CfnCondition, private readonly scopes: IConstruct[]) {}

  public visit(node: IConstruct): void {
    if (node instanceof CfnResource && this.scopes.some(s => node.node.path === s.node.path || node.node.path.startsWith(`${s.node.path}/`))) {
      node.cfnOptions.condition = this.condition;
    }
  }
}

/**
 * The Cloudcraft integration of one account of an Organization: the role, the handler and the registration,
 * created only in the home region, with the account named at deploy time. Used in the member template of
 * `CloudcraftOrganizationIntegration`; it also fits in a `StackSetStack` of cdklabs/cdk-stacksets or any stack.
 */
export class CloudcraftMemberIntegration extends Construct {
  /** The integration (role and registration), conditional on the home region. */
  public readonly integration: CloudcraftIntegration;
  /** True in the home region (undefined without `homeRegion`). */
  public readonly isHomeRegion?: CfnCondition;

  constructor(scope: Construct, id: string, props: CloudcraftMemberIntegrationProps) {
    super(scope, id);
    const handler = CloudcraftHandler.of(this, { roleName: MEMBER_HANDLER_ROLE_NAME });
    this.integration = new CloudcraftIntegration(this, 'Integration', {
      ...props,
      accountNaming: props.accountNaming ?? CloudcraftAccountNaming.fromAlias(),
    });
    if (props.homeRegion !== undefined) {
      this.isHomeRegion = new CfnCondition(this, 'IsHomeRegion', { expression: Fn.conditionEquals(Aws.REGION, props.homeRegion) });
      Aspects.of(Stack.of(this)).add(new ConditionAspect(this.isHomeRegion, [this.integration, handler]));
      // A stack whose every resource is conditioned out must still declare one: an empty marker, in every region.
      new CfnResource(this, 'RegionMarker', { type: 'AWS::CloudFormation::WaitConditionHandle' });
    }
  }
}
