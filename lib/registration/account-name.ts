import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CloudcraftValidationError } from '../private/validate';

/**
 * Options for the account names worked out per account: `CloudcraftAccountName.fromPattern()`, `fromAlias()` and
 * `fromOrganizationName()`.
 */
export interface AccountNameOptions {
  /**
   * Names by AWS account ID, used instead of the pattern for those accounts.
   *
   * @default - every account is named by the pattern
   */
  readonly names?: { [accountId: string]: string };
}

/** @internal */
export interface AccountNameBinding {
  /** A fixed name; otherwise `pattern` (with `names`) is worked out per account. */
  readonly fixed?: string;
  readonly pattern?: string;
  readonly names: { [accountId: string]: string };
  readonly needsAlias: boolean;
  /** The pattern uses `{name}`, the account's name in AWS Organizations (only the Organization registrar knows it). */
  readonly needsOrganizationName: boolean;
}

/**
 * The account's name in Cloudcraft: a fixed name, or a pattern worked out per account (from its IAM alias, its
 * name in AWS Organizations, or its ID).
 */
export abstract class CloudcraftAccountName {
  /** A fixed name, for example `CloudcraftAccountName.of('production')`. */
  public static of(name: string): CloudcraftAccountName {
    return new FixedName(name);
  }

  /**
   * A pattern: `{accountId}` becomes the account ID; `{alias}` the account's IAM alias (`aws-<account ID>` for an
   * account without one; single-account integrations only); `{name}` the account's name in AWS Organizations
   * (Organization integrations only). For example `aws/{alias}` or `{name} ({accountId})`.
   */
  public static fromPattern(pattern: string, options: AccountNameOptions = {}): CloudcraftAccountName {
    return new PatternName(pattern, options.names ?? {});
  }

  /** The account's IAM alias (`aws-<account ID>` for an account without one). */
  public static fromAlias(options: AccountNameOptions = {}): CloudcraftAccountName {
    return new PatternName('{alias}', options.names ?? {});
  }

  /** The account's name in AWS Organizations (Organization integrations only). */
  public static fromOrganizationName(options: AccountNameOptions = {}): CloudcraftAccountName {
    return new PatternName('{name}', options.names ?? {});
  }

  protected constructor() {}

  /** @internal */
  public abstract _bind(scope: Construct): AccountNameBinding;
}

class FixedName extends CloudcraftAccountName {
  constructor(private readonly name: string) {
    super();
  }

  public _bind(scope: Construct): AccountNameBinding {
    if (!Token.isUnresolved(this.name) && this.name.trim() === '') {
      throw new CloudcraftValidationError(scope, 'accountName', this.name, 'is empty', 'Give the name the account should have in Cloudcraft.');
    }
    return { fixed: this.name, names: {}, needsAlias: false, needsOrganizationName: false };
  }
}

class PatternName extends CloudcraftAccountName {
  constructor(private readonly pattern: string, private readonly names: { [accountId: string]: string }) {
    super();
  }

  public _bind(scope: Construct): AccountNameBinding {
    if (!Token.isUnresolved(this.pattern) && !/\{(alias|accountId|name)\}/.test(this.pattern)) {
      throw new CloudcraftValidationError(scope, 'accountName pattern', this.pattern, 'has none of {alias}, {name} and {accountId}, so every account would get the same name',
        'Use a pattern such as "{alias}" (one account) or "{name}" (an Organization), or CloudcraftAccountName.of(...) for a fixed name.');
    }
    for (const [accountId, name] of Object.entries(this.names)) {
      if (!/^\d{12}$/.test(accountId) || (!Token.isUnresolved(name) && name.trim() === '')) {
        throw new CloudcraftValidationError(scope, 'accountName names', { [accountId]: name }, 'is not a 12-digit account ID with a non-empty name',
          'Map each account ID to the name it should have in Cloudcraft.');
      }
    }
    return {
      pattern: this.pattern,
      names: { ...this.names },
      needsAlias: this.pattern.includes('{alias}'),
      needsOrganizationName: this.pattern.includes('{name}'),
    };
  }
}
