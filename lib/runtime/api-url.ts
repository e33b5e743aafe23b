/**
 * The rule for a Cloudcraft API URL, for the constructs (at synth) and the handler (on every event): an http(s)
 * URL, https unless it is this machine (a local emulator), normalised so that spellings of the same URL compare
 * equal (a trailing slash, the default port, the case of the host). Pure.
 */
export class ApiUrlError extends Error {}

/** Whether the key may be sent to this URL. */
export function isApiUrl(text: string): boolean {
  try {
    normalizeApiUrl(text);
    return true;
  } catch {
    return false;
  }
}

/** The URL normalised; an ApiUrlError naming the property `ApiUrl` when it is not one the key may be sent to. */
export function normalizeApiUrl(text: string): string {
  const trimmed = text.trim();
  let url: URL | undefined;
  try {
    url = /^https?:\/\/[^\s/]+/i.test(trimmed) ? new URL(trimmed) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) throw new ApiUrlError(`property ApiUrl is not an http(s) URL: ${JSON.stringify(trimmed)}`);
  // The API key goes in every request's Authorization header: https only, except to this machine (local emulators).
  if (url.protocol !== 'https:' && !/^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname)) {
    throw new ApiUrlError(`property ApiUrl must be an https:// URL (the API key is sent with every request): ${JSON.stringify(trimmed)}`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
