/**
 * Keeps secrets out of every log line and every reason: the key, and any fragment of it of `MIN_FRAGMENT` or more
 * characters (an error message may quote part of a header, a server may echo part of it back).
 */
export const MIN_FRAGMENT = 8;
export const REDACTED = '[REDACTED]';

export class Redactor {
  private readonly secrets: string[] = [];

  /** Adds a secret (and, for a JSON or multi-line value, each of its words) to redact from now on. */
  add(secret: string | undefined): void {
    if (!secret) return;
    for (const part of [secret, ...secret.split(/[\s"'{}:,[\]]+/)]) {
      if (part.length >= MIN_FRAGMENT && !this.secrets.includes(part)) this.secrets.push(part);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = redactOne(out, secret);
    return out;
  }
}

/** Replaces every run of `text` that is a substring of `secret` of at least MIN_FRAGMENT characters. */
export function redactOne(text: string, secret: string): string {
  if (secret.length < MIN_FRAGMENT || text.length < MIN_FRAGMENT) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    let longest = 0;
    for (let len = Math.min(secret.length, text.length - i); len >= MIN_FRAGMENT; len--) {
      if (secret.includes(text.substr(i, len))) {
        longest = len;
        break;
      }
    }
    if (longest > 0) {
      out += REDACTED;
      i += longest;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}
