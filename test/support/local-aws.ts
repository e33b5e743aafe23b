/**
 * Local stand-ins for what the handler talks to besides Cloudcraft, on 127.0.0.1:
 * - Secrets Manager and SSM (AWS JSON 1.1 protocol: GetSecretValue, GetParameter), reached by the real AWS SDK v3
 *   through AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM;
 * - CloudFormation's pre-signed ResponseURL, recording every PUT (headers and body), able to fail.
 */
import * as http from 'http';
import { LocalServer } from './local-server';

export interface KeyRead {
  readonly target: string;
  readonly id: string;
  readonly withDecryption?: boolean;
}

/**
 * Secrets Manager and SSM in one JSON 1.1 endpoint (the X-Amz-Target header tells them apart), and IAM's
 * ListAccountAliases (query protocol, XML).
 */
export class LocalSecrets extends LocalServer {
  /** The account's IAM aliases (at most one in IAM). */
  public aliases: string[] = [];
  public aliasDenied = false;
  public aliasReads = 0;

  public readonly secrets = new Map<string, string>();
  public readonly parameters = new Map<string, string>();
  public readonly denied = new Set<string>();
  public readonly reads: KeyRead[] = [];

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (body.includes('Action=ListAccountAliases')) {
      this.aliasReads++;
      if (this.aliasDenied) {
        res.writeHead(403, { 'content-type': 'text/xml' });
        res.end('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r</RequestId></ErrorResponse>');
        return;
      }
      const members = this.aliases.map(a => `<member>${a}</member>`).join('');
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<ListAccountAliasesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccountAliasesResult><IsTruncated>false</IsTruncated><AccountAliases>${members}</AccountAliases></ListAccountAliasesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListAccountAliasesResponse>`);
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const input = JSON.parse(body || '{}');
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    if (target === 'secretsmanager.GetSecretValue') {
      this.reads.push({ target, id: input.SecretId });
      if (this.denied.has(input.SecretId)) return send(400, { __type: 'AccessDeniedException', message: 'denied' });
      const value = this.secrets.get(input.SecretId);
      if (value === undefined) return send(400, { __type: 'ResourceNotFoundException', message: 'Secrets Manager can\'t find the specified secret.' });
      return send(200, { ARN: input.SecretId, Name: input.SecretId, SecretString: value, VersionId: 'v1' });
    }
    if (target === 'AmazonSSM.GetParameter') {
      this.reads.push({ target, id: input.Name, withDecryption: input.WithDecryption });
      if (this.denied.has(input.Name)) return send(400, { __type: 'AccessDeniedException', message: 'denied' });
      const value = this.parameters.get(input.Name);
      if (value === undefined) return send(400, { __type: 'ParameterNotFound', message: 'not found' });
      return send(200, { Parameter: { Name: input.Name, Type: 'SecureString', Value: value, Version: 1 } });
    }
    send(400, { __type: 'UnknownOperationException', message: target });
  }
}

export interface ResponsePut {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly bytes: number;
  readonly body: any;
}

/**
 * What the live-policy function writes: IAM's role inline policies (query protocol, XML; GetRolePolicy answers the
 * document URL-encoded, as IAM does: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html) and
 * SSM String parameters (JSON 1.1: GetParameter, PutParameter with Overwrite).
 */
export class LocalIamSsm extends LocalServer {
  /** Inline policies by `<role>/<name>`: the document as sent. */
  public readonly inline = new Map<string, string>();
  public readonly parameters = new Map<string, string>();
  public readonly roles = new Set<string>(['cloudcraft']);

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const xml = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(text);
    };
    const iamError = (status: number, code: string) => xml(status, `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${code}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);
    if (body.includes('Action=')) {
      const form = new URLSearchParams(body);
      const action = form.get('Action');
      const role = form.get('RoleName') ?? '';
      const key = `${role}/${form.get('PolicyName')}`;
      if (!this.roles.has(role)) return iamError(404, 'NoSuchEntity');
      if (action === 'PutRolePolicy') {
        this.inline.set(key, form.get('PolicyDocument') ?? '');
        return xml(200, '<PutRolePolicyResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutRolePolicyResponse>');
      }
      if (action === 'GetRolePolicy') {
        const document = this.inline.get(key);
        if (document === undefined) return iamError(404, 'NoSuchEntity');
        return xml(200, `<GetRolePolicyResponse><GetRolePolicyResult><RoleName>${role}</RoleName><PolicyName>${form.get('PolicyName')}</PolicyName>`
          + `<PolicyDocument>${encodeURIComponent(document)}</PolicyDocument></GetRolePolicyResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRolePolicyResponse>`);
      }
      if (action === 'DeleteRolePolicy') {
        if (!this.inline.delete(key)) return iamError(404, 'NoSuchEntity');
        return xml(200, '<DeleteRolePolicyResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteRolePolicyResponse>');
      }
      return iamError(400, 'InvalidAction');
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const input = JSON.parse(body || '{}');
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(payload));
    };
    if (target === 'AmazonSSM.GetParameter') {
      const value = this.parameters.get(input.Name);
      if (value === undefined) return send(400, { __type: 'ParameterNotFound', message: 'not found' });
      return send(200, { Parameter: { Name: input.Name, Type: 'String', Value: value, Version: 1 } });
    }
    if (target === 'AmazonSSM.PutParameter') {
      if (this.parameters.has(input.Name) && input.Overwrite !== true) return send(400, { __type: 'ParameterAlreadyExists', message: 'exists' });
      this.parameters.set(input.Name, input.Value);
      return send(200, { Version: 2, Tier: 'Standard' });
    }
    send(400, { __type: 'UnknownOperationException', message: target });
  }
}

/** CloudFormation's ResponseURL. */
export class LocalResponseUrl extends LocalServer {
  public readonly puts: ResponsePut[] = [];
  /** How many of the next PUTs to fail with 500. */
  public failNext = 0;

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (this.failNext > 0) {
      this.failNext--;
      res.writeHead(500);
      res.end('try again');
      return;
    }
    this.puts.push({ path: req.url ?? '', contentType: req.headers['content-type'], bytes: Buffer.byteLength(body), body: JSON.parse(body) });
    res.writeHead(200);
    res.end();
  }

  /** The answers given to one request (by the path of its ResponseURL). */
  answersTo(path: string): any[] {
    return this.puts.filter(p => p.path === path).map(p => p.body);
  }
}
