import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The Lambda code shipped in the package: assets/<name>.js, built by the bundle:handler task, inlined in templates. */
export type BundleName = 'registration-handler' | 'registrar' | 'diagrams' | 'live-policy';

const cache = new Map<BundleName, string>();

/** A bundle's code, read once per process. */
export function bundleCode(name: BundleName): string {
  let code = cache.get(name);
  if (code === undefined) {
    const file = path.join(__dirname, '..', '..', 'assets', `${name}.js`);
    if (!fs.existsSync(file)) {
      throw new Error(`cdk-cloudcraft: the ${name} bundle ${file} is missing. In a clone of the repository, run "npx projen bundle:handler" (or the full build) first.`);
    }
    code = fs.readFileSync(file, 'utf8');
    cache.set(name, code);
  }
  return code;
}

/**
 * What every function of the library is, whichever bundle it runs: Node.js 24 on arm64, the bundle inlined in the
 * template (no file asset), its `handler` export. The rest (role, timeout, memory, environment) is each construct's.
 */
export function bundledFunction(name: BundleName): Pick<lambda.FunctionProps, 'runtime' | 'architecture' | 'handler' | 'code'> {
  return {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromInline(bundleCode(name)),
  };
}
