/**
 * Runs Lambda code as the Node.js runtime does, in a fresh process (test/support/lambda-runner.js): `<dir>/index.js`
 * loaded as CommonJS, `handler(event, context)` awaited, with the AWS SDK v3 from this repository's node_modules (as
 * the runtime provides it), fake credentials, and the environment given (the local stand-ins' endpoints). The
 * stand-ins answer from this process, so the call never blocks it. Node.js 24 from `npx projen lambda-node` where
 * it exists for the platform.
 */
import { spawn } from 'child_process';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LAMBDA_NODE_BIN } = require('../../tools/lambda-node.js') as { LAMBDA_NODE_BIN: string };
export const LAMBDA_NODE = process.platform === 'linux' && process.arch === 'x64' ? LAMBDA_NODE_BIN : process.execPath;

/** The process's exit code and everything it wrote. */
export async function runLambda(codeDir: string, event: unknown, env: Record<string, string>,
  remainingMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(LAMBDA_NODE, [path.join(__dirname, 'lambda-runner.js'), codeDir], {
    env: {
      PATH: process.env.PATH,
      NODE_PATH: path.join(__dirname, '..', '..', 'node_modules'),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
      AWS_SECRET_ACCESS_KEY: 'local',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', d => (output += d));
  child.stderr.on('data', d => (output += d));
  child.stdin.end(JSON.stringify({ event, remainingMs }));
  const code = await new Promise<number | null>(resolve => child.on('close', resolve));
  return { code, output };
}
