import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CloudcraftValidationError } from '../private/validate';

/**
 * Options for `CloudcraftAccountNaming.fromPattern()` and `fromAlias()`.
 */
export interface AccountNamingOptions {
  /**
   * Names by AWS account ID, used instead of the pattern for those accounts.
   *
   * @default - every account is named by the pattern
   */
  readonly names?: { [accountId: string]: string };
}

/** @internal */
export interface AccountNamingBinding {
  readonly pattern: string;
  readonly names: { [accountId: string]: string };
  readonly needsAlias: boolean;
  /** The pattern uses `{name}`, the account's name in AWS Organizations (only the Organization registrar knows it). */
  readonly needsOrganizationName: boolean;
}

/**
 * How an account is named in Cloudcraft when the name is worked out in the account itself at deploy time (one
 * template for many accounts, as in an Organization rollout).
 */
export abstract class CloudcraftAccountNaming {
  /**
   * A pattern: `{accountId}` becomes the account ID; `{alias}` the account's IAM alias (`aws-<account ID>` for an
   * account without one; single-account integrations only); `{name}` the account's name in AWS Organizations
   * (Organization integrations only). For example `aws/{alias}` or `{name} ({accountId})`.
   */
  public static fromPattern(pattern: string, options: AccountNamingOptions = {}): CloudcraftAccountNaming {
    return new PatternNaming(pattern, options.names ?? {});
  }

  /** The account's IAM alias (`aws-<account ID>` for an account without one). */
  public static fromAlias(options: AccountNamingOptions = {}): CloudcraftAccountNaming {
    return new PatternNaming('{alias}', options.names ?? {});
  }

  /**
   * The account's name in AWS Organizations (Organization integrations only).
   */
  public static fromOrganizationName(options: AccountNamingOptions = {}): CloudcraftAccountNaming {
    return new PatternNaming('{name}', options.names ?? {});
  }

  protected constructor() {}

  /** @internal */
  public abstract _bind(scope: Construct): AccountNamingBinding;
}

class PatternNaming extends CloudcraftAccountNaming {
  constructor(private readonly pattern: string, private readonly names: { [accountId: string]: string }) {
    super();
  }

  public _bind(scope: Construct): AccountNamingBinding {
    if (!Token.isUnresolved(this.pattern) && !/\{(alias|accountId|name)\}/.test(this.pattern)) {
      throw new CloudcraftValidationError(scope, 'accountNaming pattern', this.pattern, 'has none of {alias}, {name} and {accountId}, so every account would get the same name',
        'Use a pattern such as "{alias}" (one account) or "{name}" (an Organization), or give accountName for a single account.');
    }
    for (const [accountId, name] of Object.entries(this.names)) {
      if (!/^\d{12}$/.test(accountId) || (!Token.isUnresolved(name) && name.trim() === '')) {
        throw new CloudcraftValidationError(scope, 'accountNaming names', { [accountId]: name }, 'is not a 12-digit account ID with a non-empty name',
          'Map each account ID to the name it should have in Cloudcraft.');
      }
    }
    return { pattern: this.pattern, names: { ...this.names }, needsAlias: this.pattern.includes('{alias}'), needsOrganizationName: this.pattern.includes('{name}') };
  }
}
