// The consumer test: the packed tarball installed into a fresh CDK app outside the repository, whose `cdk synth`
// must pass with cdk-nag 3's packs applied, once with the lowest aws-cdk-lib the peer dependency allows and once
// with the newest. Run by the test task after compile (`npx projen test:consumer`); exits non-zero on a failure.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const floor = pkg.peerDependencies['aws-cdk-lib'].replace(/^[\^~]/, '');

function run(cmd, args, cwd) {
  const out = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_VERSION_CHECK: 'true' } });
  if (out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${out.status}):\n${(out.stdout ?? '').slice(-3000)}\n${(out.stderr ?? '').slice(-3000)}`);
  }
  return out.stdout;
}

const APP = `
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { CloudcraftAccess, CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration, CloudcraftOrganizationIntegration } from 'cdk-cloudcraft';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(), new NIST80053R5Checks(), new HIPAASecurityChecks(), new PCIDSS321Checks(), new ServerlessChecks());

const single = new Stack(app, 'Single', { env: { region: 'eu-west-1' } });
new CloudcraftIntegration(single, 'Cloudcraft', {
  apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(single, 'Key', 'cloudcraft/api-key')),
  accountName: CloudcraftAccountName.of('production'),
});

const organization = new Stack(app, 'Organization', { env: { account: '111122223333', region: 'us-east-1' } });
new CloudcraftOrganizationIntegration(organization, 'Cloudcraft', {
  apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(organization, 'Key', 'cloudcraft/api-key')),
  organizationalUnitIds: ['r-ab12'],
  access: CloudcraftAccess.minimal(),
});
app.synth();
`;

function consumer(tarball, cdkLib) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cloudcraft-consumer-'));
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: 'consumer', private: true, version: '0.0.0',
      dependencies: { 'cdk-cloudcraft': `file:${tarball}`, 'aws-cdk-lib': cdkLib, 'constructs': '^10.5.0', 'cdk-nag': '^3' },
      devDependencies: { 'aws-cdk': '^2', 'ts-node': '^10', 'typescript': '~5.9', '@types/node': '^20' },
    }, null, 2));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: true } }));
    fs.writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ app: 'npx ts-node --prefer-ts-exts app.ts' }));
    fs.writeFileSync(path.join(dir, 'app.ts'), APP);
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    const installed = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'aws-cdk-lib', 'package.json'), 'utf8')).version;
    const started = Date.now();
    run('npx', ['cdk', 'synth', '--quiet'], dir);
    const out = path.join(dir, 'cdk.out');
    const stacks = fs.readdirSync(out).filter(f => f.endsWith('.template.json'));
    return { awsCdkLib: installed, stacks, synthSeconds: Math.round((Date.now() - started) / 100) / 10 };
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
    results.push(consumer(tarball, version));
  }
  process.stdout.write(`consumer test: ${JSON.stringify(results)}\n`);
} catch (err) {
  process.stderr.write(`consumer test failed: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  fs.rmSync(packDir, { recursive: true, force: true });
}
