/**
 * Loads Lambda code (a template's inline ZipFile) as a module, the way the runtime would: written to a folder below
 * the repository, so it finds the AWS SDK v3 as the runtime provides it.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export function loadHandler(code: string): (event: any, context: any) => Promise<void> {
  const dir = path.join(__dirname, '..', '..', '.cache', 'simulation', randomUUID());
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'index.js');
  fs.writeFileSync(file, code);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file).handler;
}
