// The consumer test: the packed tarball installed into a fresh CDK app outside the repository, made of the packed
// README's TypeScript samples as written, each in a stack with a concrete env and again in an environment-agnostic
// one, with the context `cdk init` writes in cdk.json (its recommended feature flags, among them partition
// literals), whose `cdk synth` must pass with cdk-nag 3's five packs and again with cdk-nag 2's, once with the lowest
// aws-cdk-lib the peer dependency allows and once with the newest. Run by the test task after compile (`npx projen test:consumer`); exits non-zero on a failure.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const floor = pkg.peerDependencies['aws-cdk-lib'].replace(/^[\^~]/, '');

function run(cmd, args, cwd, expectFailure = false) {
  const out = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_VERSION_CHECK: 'true' } });
  if (expectFailure) {
    if (out.status === 0) throw new Error(`${cmd} ${args.join(' ')} passed in ${cwd}, but it must fail (the control)`);
    if (!/AwsSolutions-IAM4/.test(`${out.stdout}${out.stderr}`)) throw new Error(`${cmd} ${args.join(' ')} failed without the expected finding:\n${(out.stderr ?? '').slice(-3000)}`);
    return out.stdout;
  }
  if (out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${out.status}):\n${(out.stdout ?? '').slice(-3000)}\n${(out.stderr ?? '').slice(-3000)}`);
  }
  return out.stdout;
}

/**
 * The app: every TypeScript sample of the packed README, as written, each in a stack of its own (the samples run in
 * a stack's constructor, as the rosetta fixture says; an app-level sample, `fixture=app`, is skipped: the app below
 * turns cdk-nag on itself). Imports are merged by module.
 */
function appFromReadme(readme) {
  const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(m => m[1]);
  if (samples.length < 3) throw new Error(`the README has ${samples.length} TypeScript samples; expected the quick start, its options and the Organization`);
  const named = new Map();
  const namespaces = new Map();
  const bodies = samples.map(sample => sample.split('\n').filter(line => {
    const n = /^import \{([^}]*)\} from '([^']+)';$/.exec(line);
    const ns = /^import \* as (\w+) from '([^']+)';$/.exec(line);
    if (n) {
      const names = named.get(n[2]) ?? new Set();
      n[1].split(',').map(x => x.trim()).filter(Boolean).forEach(x => names.add(x));
      named.set(n[2], names);
    } else if (ns) {
      namespaces.set(ns[1], ns[2]);
    } else if (/^import /.test(line)) {
      throw new Error(`consumer test: cannot merge the README import "${line}"`);
    }
    return !n && !ns;
  }).join('\n'));
  for (const mod of ['aws-cdk-lib', 'cdk-nag', 'cdk-nag2']) named.set(mod, named.get(mod) ?? new Set());
  ['App', 'Aspects', 'Stack', 'Validations'].forEach(x => named.get('aws-cdk-lib').add(x));
  for (const pack of PACKS) {
    named.get('cdk-nag').add(pack);
    named.get('cdk-nag2').add(`${pack} as ${pack}2`);
  }
  namespaces.set('iam', 'aws-cdk-lib/aws-iam');
  return [
    ...[...namespaces].map(([alias, mod]) => `import * as ${alias} from '${mod}';`),
    ...[...named].map(([mod, names]) => `import { ${[...names].join(', ')} } from '${mod}';`),
    '',
    'const app = new App();',
    'if (app.node.tryGetContext(\'nag\') === \'2\') {',
    `  ${PACKS.map(p => `Aspects.of(app).add(new ${p}2());`).join('\n  ')}`,
    '} else {',
    `  Validations.of(app).addPlugins(${PACKS.map(p => `new ${p}()`).join(', ')});`,
    '}',
    ...bodies.map((body, i) => `
class Sample${i + 1} extends Stack {
  constructor(scope: App, id: string, concrete: boolean) {
    super(scope, id, concrete ? { env: { account: '111122223333', region: 'eu-west-1' } } : {});
${body.split('\n').map(l => `    ${l}`.trimEnd()).join('\n')}
  }
}
new Sample${i + 1}(app, 'ReadmeSample${i + 1}', true);
new Sample${i + 1}(app, 'ReadmeSample${i + 1}Agnostic', false);`),
    // The control: a role with an AWS managed policy nobody acknowledged must fail the synth under either cdk-nag.
    'if (app.node.tryGetContext(\'control\') === \'1\') {',
    '  const control = new Stack(app, \'Control\');',
    '  new iam.Role(control, \'Role\', { assumedBy: new iam.AccountRootPrincipal(), managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(\'ReadOnlyAccess\')] });',
    '}',
    'app.synth();',
    '',
  ].join('\n');
}

const PACKS = ['AwsSolutionsChecks', 'NIST80053R5Checks', 'HIPAASecurityChecks', 'PCIDSS321Checks', 'ServerlessChecks'];

function consumer(tarball, cdkLib, control) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cloudcraft-consumer-'));
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: 'consumer', private: true, version: '0.0.0',
      dependencies: {
        'cdk-cloudcraft': `file:${tarball}`, 'aws-cdk-lib': cdkLib, 'constructs': '^10.5.0', 'cdk-nag': '^3', 'cdk-nag2': 'npm:cdk-nag@^2',
      },
      devDependencies: { 'aws-cdk': '^2', 'ts-node': '^10', 'typescript': '~5.9', '@types/node': '^20' },
    }, null, 2));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: true } }));
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    // The context `cdk init` writes: the new-project defaults and every recommended flag of this aws-cdk-lib.
    const context = JSON.parse(run('node', ['-e', 'const c = require("aws-cdk-lib/cx-api"); '
      + 'process.stdout.write(JSON.stringify({ ...c.NEW_PROJECT_DEFAULT_CONTEXT, ...c.CURRENTLY_RECOMMENDED_FLAGS }))'], dir));
    if (context['@aws-cdk/core:enablePartitionLiterals'] !== true) throw new Error('consumer test: the recommended flags lack partition literals');
    fs.writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ app: 'npx ts-node --prefer-ts-exts app.ts', context }, null, 2));
    // The README as packed, not as in the repository.
    fs.writeFileSync(path.join(dir, 'app.ts'), appFromReadme(fs.readFileSync(path.join(dir, 'node_modules', 'cdk-cloudcraft', 'README.md'), 'utf8')));
    const version = (name) => JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
    const result = { awsCdkLib: version('aws-cdk-lib') };
    for (const nag of ['3', '2']) {
      fs.rmSync(path.join(dir, 'cdk.out'), { recursive: true, force: true });
      const started = Date.now();
      run('npx', ['cdk', 'synth', '--quiet', '-c', `nag=${nag}`], dir);
      const stacks = fs.readdirSync(path.join(dir, 'cdk.out')).filter(f => f.endsWith('.template.json'));
      result[`cdkNag${nag}`] = {
        version: version(nag === '3' ? 'cdk-nag' : 'cdk-nag2'), stacks: stacks.length, flags: Object.keys(context).length, synthSeconds: Math.round((Date.now() - started) / 100) / 10,
      };
      if (control) {
        run('npx', ['cdk', 'synth', '--quiet', '-c', `nag=${nag}`, '-c', 'control=1'], dir, true);
        result[`cdkNag${nag}`].controlFailed = true;
      }
    }
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cloudcraft-pack-'));
try {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop();
  const tarball = path.join(packDir, name);
  const results = [];
  for (const version of [floor, 'latest']) {
    process.stderr.write(`consumer test: aws-cdk-lib ${version}\n`);
    results.push(consumer(tarball, version, version === 'latest'));
  }
  process.stdout.write(`consumer test: ${JSON.stringify(results)}\n`);
} catch (err) {
  process.stderr.write(`consumer test failed: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  fs.rmSync(packDir, { recursive: true, force: true });
}
