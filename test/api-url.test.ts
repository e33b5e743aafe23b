/**
 * One rule for the API URL: synth (validateApiUrl) refuses exactly the URLs the handler (parseProps) refuses, and both
 * normalise spellings of one URL to the same string.
 */
import { App, Stack } from 'aws-cdk-lib';
import { validateApiUrl } from '../lib/private/validate';
import { IAM_PARAMETERS_TYPE } from '../lib/registration/handler/contract';
import { parseProps } from '../lib/registration/handler/properties';
import { normalizeApiUrl } from '../lib/runtime/api-url';

const URLS = [
  'https://api.cloudcraft.co', 'https://API.cloudcraft.co:443/', 'https://gov.example.com/api/', 'https://api.cloudcraft.co:8443',
  'http://127.0.0.1:4010', 'http://localhost', 'http://[::1]:4010/', 'http://api.cloudcraft.co', 'ftp://api.cloudcraft.co',
  'api.cloudcraft.co', '', ' ', 'https://', 'https:// api.cloudcraft.co', 'http://127.0.0.2:4010', 'https://user@api.cloudcraft.co',
];

test.each(URLS)('synth and the handler agree on %j', (url) => {
  const stack = new Stack(new App(), 'S');
  const atSynth = (() => {
    try {
      validateApiUrl(stack, url);
      return 'accepted';
    } catch (err) {
      expect((err as Error).message).toMatch(/apiUrl/);
      return 'refused';
    }
  })();
  const inHandler = (() => {
    try {
      parseProps(IAM_PARAMETERS_TYPE, { ApiUrl: url, ApiKeyId: 'k' });
      return 'accepted';
    } catch (err) {
      expect((err as Error).message).toMatch(/property ApiUrl/);
      return 'refused';
    }
  })();
  expect(atSynth).toBe(inHandler);
});

test('spellings of one URL normalise to one string; another port or path is another URL', () => {
  expect(new Set(['https://api.cloudcraft.co', 'https://API.cloudcraft.co:443/', 'HTTPS://api.cloudcraft.co//'].map(normalizeApiUrl))).toEqual(new Set(['https://api.cloudcraft.co']));
  expect(normalizeApiUrl('https://api.cloudcraft.co:8443')).not.toBe(normalizeApiUrl('https://api.cloudcraft.co'));
  expect(normalizeApiUrl('https://gov.example.com/api/')).toBe('https://gov.example.com/api');
});
