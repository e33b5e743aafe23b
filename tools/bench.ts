/**
 * `npm run bench`: what cdk-cloudcraft costs, measured on this machine against the physical minimum and against
 * anchors built in the same run. Prints one JSON document on stdout (also written to .cache/bench/report.json)
 * and a short table on stderr. Not part of the tests: nothing here is asserted, every figure is measured, and
 * targets are only compared.
 *
 *   npm run bench                 full run (about 2 minutes on 2 cores); also writes docs/performance.md
 *   npm run bench -- --quick      3 repeats, registrar N = 1,000 only
 *   npm run bench -- --repeats 9  repeats for timings (default 7)
 *
 * The library is loaded from build/ (the compiled JavaScript users get), which the bench task compiles first.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { benchDiagrams, benchTogether, DiagramsBenchResult, diagramTargets, TOGETHER_CASES, TogetherBenchResult } from './bench-diagrams';
import { benchDeployAnswer, benchEmptyList, benchRegistrar, RegistrarBenchResult } from './bench-registrar';
import { PERFORMANCE_DOC, renderPerformance } from './docs';
import { configureEnvironment, Harness } from '../test/support/harness';
import { loadHandler } from '../test/support/simulation';

const ROOT = path.join(__dirname, '..');
const WORK = path.join(ROOT, '.cache', 'bench');
/** The last report, also written here (stdout also carries the build's own output). */
const REPORT_FILE = path.join(WORK, 'report.json');
// The compiled library, typed by its sources.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require(path.join(ROOT, 'build', 'index.js')) as typeof import('../lib');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { lambdaNode } = require('./lambda-node.js') as { lambdaNode: () => string };

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const repeatsArg = args.indexOf('--repeats');
const repeatsGiven = repeatsArg >= 0;
const REPEATS = repeatsArg >= 0 ? Math.max(1, Number(args[repeatsArg + 1]) || 1) : (QUICK ? 3 : 7);

// ---------------------------------------------------------------------------------------------------------------
// Statistics and reporting

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function spread(values: number[], digits = 1): Spread {
  const round = (x: number) => Number(x.toFixed(digits));
  return { median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)), runs: values.length };
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// ---------------------------------------------------------------------------------------------------------------
// Stacks

type Builder = (stack: Stack, i: number) => void;
// The stacks measured, shared with the synth worker (plain JavaScript, so that each synth runs without ts-node).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { builders } = require('./bench-synth.js') as { builders: Record<'cloudcraft' | 'bareRole' | 'providerFramework', Builder> };

function freshApp(): { app: App; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcraft-bench-'));
  return { app: new App({ outdir }), outdir };
}

interface Synthesized {
  readonly template: any;
  readonly templateFileBytes: number;
  readonly fileAssets: number;
}

function synthesizeOne(build: (stack: Stack) => void): Synthesized {
  const { app, outdir } = freshApp();
  try {
    const stack = new Stack(app, 'Bench');
    build(stack);
    const artifact = app.synth().getStackByName('Bench');
    // File assets (Lambda code zips and the like) from the stack's asset manifest; the template itself is not one.
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'Bench.assets.json'), 'utf8'));
    const files = Object.values<any>(manifest.files ?? {}).filter(f => !String(f.source?.path).endsWith('.template.json'));
    return {
      template: artifact.template,
      templateFileBytes: fs.statSync(artifact.templateFullPath).size,
      fileAssets: files.length,
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function sizeOf(file: string): number | null {
  return fs.existsSync(file) ? fs.statSync(file).size : null;
}

function resourceCount(template: any) {
  const byType: Record<string, number> = {};
  for (const resource of Object.values<any>(template.Resources ?? {})) byType[resource.Type] = (byType[resource.Type] ?? 0) + 1;
  const of = (...types: string[]) => types.reduce((sum, t) => sum + (byType[t] ?? 0), 0);
  return {
    total: Object.keys(template.Resources ?? {}).length,
    lambdaFunctions: of('AWS::Lambda::Function'),
    iamRoles: of('AWS::IAM::Role'),
    iamPolicies: of('AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'),
    logGroups: of('AWS::Logs::LogGroup'),
    customResources: Object.entries(byType).filter(([t]) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource')
      .reduce((sum, [, n]) => sum + n, 0),
    byType,
  };
}

function inlineCodeOf(template: any): string {
  const functions = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::Lambda::Function');
  if (functions.length !== 1) throw new Error(`expected one Lambda function in the template, found ${functions.length}`);
  return functions[0].Properties.Code.ZipFile;
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

/** Module load of the inline handler on the Lambda runtime's Node major, in fresh processes. */
function measureModuleLoad(code: string) {
  const node = lambdaNode();
  const dir = path.join(WORK, 'handler'); // below the repository: the AWS SDK resolves as the runtime provides it
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.js'), code);
  const probe = [
    'const t0 = process.hrtime.bigint();',
    'const m = require("./index.js");',
    'const t1 = process.hrtime.bigint();',
    'if (typeof m.handler !== "function") throw new Error("index.handler is not a function");',
    // What the first invocation adds: the SDK client of the key's store, and Node's fetch (loaded on first access).
    'require("@aws-sdk/client-secrets-manager");',
    'const t2 = process.hrtime.bigint();',
    // The first fetch loads Node's HTTP client (undici); port 9 on loopback refuses at once, so this is the load.
    'fetch("http://127.0.0.1:9/").catch(() => undefined).then(() => {',
    '  const t3 = process.hrtime.bigint();',
    '  process.stdout.write(JSON.stringify({ load: Number(t1 - t0) / 1e6, sdk: Number(t2 - t1) / 1e6, fetch: Number(t3 - t2) / 1e6 }));',
    '});',
  ].join('\n');
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const load: number[] = [];
  const sdk: number[] = [];
  const fetchLoad: number[] = [];
  const runs = Math.max(5, REPEATS * 3);
  for (let i = 0; i <= runs; i++) {
    const out = spawnSync(node, ['-e', probe], { cwd: dir, encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`module load probe failed: ${out.stderr}`);
    if (i === 0) continue; // the first run warms the file cache
    const figures = JSON.parse(out.stdout);
    load.push(figures.load);
    sdk.push(figures.sdk);
    fetchLoad.push(figures.fetch);
  }
  return {
    node: version,
    moduleLoadMs: spread(load, 2),
    firstUse: { secretsManagerClientLoadMs: spread(sdk, 1), firstFetchMs: spread(fetchLoad, 1) },
  };
}

/** Cloudcraft calls of the happy path, per event, against the emulator, with the handler code of the template. */
async function measureCalls(code: string) {
  configureEnvironment();
  const handler = loadHandler(code);
  const harness = await Harness.start();
  try {
    const count = async (event: any) => {
      const before = harness.emulator.calls.length;
      const invocation = await harness.invoke(handler, event);
      if (invocation.answer?.Status !== 'SUCCESS') throw new Error(`happy path failed: ${invocation.answer?.Reason}`);
      return { calls: harness.emulator.calls.length - before, answer: invocation.answer };
    };
    const props = harness.registrationProps();
    const create = await count(harness.event('Create', props));
    const physicalId = create.answer.PhysicalResourceId;
    const renamed = harness.registrationProps({ AccountName: 'production-renamed' });
    const update = await count(harness.event('Update', renamed, { PhysicalResourceId: physicalId, OldResourceProperties: props }));
    const teams = harness.registrationProps({ AccountName: 'production-renamed', ReadAccess: ['team/1b9c1d4e-0000-4000-8000-000000000001'] });
    const updateTeams = await count(harness.event('Update', teams, { PhysicalResourceId: physicalId, OldResourceProperties: renamed }));
    const del = await count(harness.event('Delete', teams, { PhysicalResourceId: physicalId }));
    const iamParameters = await count({
      ...harness.event('Create', { ServiceToken: props.ServiceToken, ApiUrl: props.ApiUrl, ApiKeySource: props.ApiKeySource, ApiKeyId: props.ApiKeyId }),
      ResourceType: 'Custom::CloudcraftIamParameters',
      LogicalResourceId: 'CloudcraftIamParameters',
    });
    return {
      create: { measured: create.calls, minimum: 1 },
      // A list, then the PUT: a team list the template does not manage is sent back as the registration has it
      // (whether a PUT that leaves it out keeps it is not documented). With both lists managed, the PUT alone.
      updateName: { measured: update.calls, minimum: 2, note: 'list + PUT (team access not managed); PUT alone when both lists are managed' },
      updateTeams: { measured: updateTeams.calls, minimum: 2, note: 'list + PUT (write access not managed)' },
      delete: { measured: del.calls, minimum: 1 },
      externalIdLookup: { measured: iamParameters.calls, minimum: 0, note: 'once per stack, only when externalId is left out' },
    };
  } finally {
    await harness.stop();
  }
}

/**
 * The Organization registrar on virtual time (tools/bench-registrar.ts): N accounts, both readings of Cloudcraft's
 * limit, rejected requests counted or not.
 */
async function measureRegistrar() {
  const sizes = QUICK ? [1_000] : [1_000, 10_000];
  const results: RegistrarBenchResult[] = [];
  for (const accounts of sizes) {
    for (const windowMs of [10_000, 60_000]) {
      for (const countRejected of [false, true]) {
        progress(`registrar: ${accounts} accounts, 20 per ${windowMs / 1000} s, 429s ${countRejected ? '' : 'not '}counted`);
        results.push(await benchRegistrar({ accounts, windowMs, countRejected }));
      }
    }
    // Another user of the same key takes a fifth of the limit, and its burst makes the first answer a 429.
    for (const windowMs of [10_000, 60_000]) {
      progress(`registrar: ${accounts} accounts, 20 per ${windowMs / 1000} s, another user of the key`);
      results.push(await benchRegistrar({ accounts, windowMs, countRejected: true, foreign: { perWindow: 4 } }));
    }
  }
  // The deployment of a 150-account Organization under 20 per 10 s (rejected counted): the IAM parameters call, the
  // list and the POSTs share one window.
  progress('registrar: 150 accounts, 20 per 10 s, from the deployment');
  results.push(await benchRegistrar({ accounts: 150, windowMs: 10_000, countRejected: true }));
  return results;
}

/**
 * The diagram work on virtual time (tools/bench-diagrams.ts): a round, a day with no change, a day where 5% changed;
 * and the real registrar registering a new account while a round is in progress, against the same world without the
 * round (tools/bench-together.ts: the same cases in the quick run, about 20 s).
 */
async function measureDiagrams() {
  const cases = QUICK ? [{ accounts: 100, scanMs: 0 }]
    : [{ accounts: 1_000, scanMs: 0 }, { accounts: 1_000, scanMs: 30_000 }, { accounts: 10_000, scanMs: 0 }];
  const diagrams: DiagramsBenchResult[] = [];
  for (const c of cases) {
    progress(`diagrams: ${c.accounts} accounts, scans of ${c.scanMs / 1000} s`);
    diagrams.push(await benchDiagrams(c));
  }
  const together: TogetherBenchResult[] = [];
  for (const c of TOGETHER_CASES) {
    progress(`diagrams: a new account registered during a round of ${c.accounts} accounts, scans of ${c.scanMs / 1000} s, and without the round`);
    together.push(await benchTogether(c));
  }
  return { diagrams, together };
}

/** One empty list in the middle (then three hourly runs), and a deployment's answer while a run is in progress. */
async function measureRegistrarScenarios() {
  progress('registrar: one empty list in the middle');
  const emptyList = await benchEmptyList(QUICK ? 100 : 1_000);
  progress('registrar: a deployment\'s answer while a run is in progress');
  const deployAnswer = await benchDeployAnswer(1_000);
  return { emptyList, deployAnswer };
}

/** One synth in a fresh process (tools/bench-synth.js): module load and app time inside it, wall time around it. */
function timeSynth(kind: keyof typeof builders, stacks: number) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcraft-bench-'));
  try {
    const started = process.hrtime.bigint();
    const out = spawnSync(process.execPath, [path.join(__dirname, 'bench-synth.js'), kind, String(stacks), outdir], { encoding: 'utf8' });
    const wallMs = ms(started);
    if (out.status !== 0) throw new Error(`synth of ${stacks} ${kind} stack(s) failed: ${out.stderr}`);
    const { appMs } = JSON.parse(out.stdout) as { appMs: number };
    return { appMs, wallMs };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function measureSynth() {
  const kinds = Object.keys(builders) as Array<keyof typeof builders>;
  timeSynth('cloudcraft', 1); // warms the file cache
  const results = [];
  for (const stacks of [1, 10, 50]) {
    const app: Record<string, number[]> = { cloudcraft: [], bareRole: [], providerFramework: [] };
    const wall: Record<string, number[]> = { cloudcraft: [], bareRole: [], providerFramework: [] };
    for (let run = 0; run < REPEATS; run++) {
      // Rotate which kind goes first, so drift on the machine falls on all of them.
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(run + k) % kinds.length];
        const t = timeSynth(kind, stacks);
        app[kind].push(t.appMs);
        wall[kind].push(t.wallMs);
      }
    }
    const spreads = (t: Record<string, number[]>) => ({
      cloudcraftIntegration: spread(t.cloudcraft, 0), bareRole: spread(t.bareRole, 0), providerFramework: spread(t.providerFramework, 0),
    });
    const ratio = (a: number[], b: number[]) => Number((median(a) / median(b)).toFixed(2));
    progress(`synth ${stacks} stack(s), app time: ${median(app.cloudcraft).toFixed(0)} ms; bare role ${median(app.bareRole).toFixed(0)} ms; `
      + `Provider framework ${median(app.providerFramework).toFixed(0)} ms`);
    results.push({
      stacks,
      appMs: spreads(app),
      processWallMs: spreads(wall),
      ratioToBareRole: { app: ratio(app.cloudcraft, app.bareRole), processWall: ratio(wall.cloudcraft, wall.bareRole) },
      ratioToProviderFramework: { app: ratio(app.cloudcraft, app.providerFramework), processWall: ratio(wall.cloudcraft, wall.providerFramework) },
    });
  }
  // What one more stack costs, without the fixed cost of a synth (aws-cdk-lib's validation engine, first use of
  // each construct class): from the medians at 1 and at 50 stacks.
  const first = results[0];
  const last = results[results.length - 1];
  const marginal = (kind: 'cloudcraftIntegration' | 'bareRole' | 'providerFramework') =>
    Number(((last.appMs[kind].median - first.appMs[kind].median) / (last.stacks - first.stacks)).toFixed(1));
  const marginalMsPerStack = { cloudcraftIntegration: marginal('cloudcraftIntegration'), bareRole: marginal('bareRole'), providerFramework: marginal('providerFramework') };
  return { runs: results, marginalMsPerStack };
}

// ---------------------------------------------------------------------------------------------------------------
// Machine

function machine() {
  const git = (...gitArgs: string[]) => spawnSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  return {
    date: new Date().toISOString(),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedChanges: (git('status', '--porcelain') ?? '') !== '',
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    loadAverage1m: Number(os.loadavg()[0].toFixed(2)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    awsCdkLib: pkg('aws-cdk-lib'),
    constructs: pkg('constructs'),
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  fs.mkdirSync(WORK, { recursive: true });
  const started = process.hrtime.bigint();
  const host = machine();
  progress(`${host.cores} x ${host.cpu}, ${host.memoryGiB} GiB, ${host.node}; repeats ${REPEATS}${QUICK ? ' (quick)' : ''}`);

  // Templates and resources
  const single = synthesizeOne(stack => builders.cloudcraft(stack, 0));
  const code = inlineCodeOf(single.template);
  const bareRole = synthesizeOne(stack => builders.bareRole(stack, 0));
  const provider = synthesizeOne(stack => builders.providerFramework(stack, 0));
  const orgStack = new Stack(new App(), 'Org', { env: { account: '111122223333', region: 'us-east-1' } });
  const organization = new lib.CloudcraftOrganizationIntegration(orgStack, 'Cloudcraft', {
    apiKey: lib.CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(orgStack, 'ApiKeySecret', 'cloudcraft/api-key')),
    organizationalUnitIds: ['r-ab12'],
    access: lib.CloudcraftAccess.minimal(),
  });
  const memberBody = orgStack.resolve(organization.stackSet.templateBody) as string;
  const memberTemplate = JSON.parse(memberBody);
  const managementTemplate = orgStack.resolve((orgStack as any)._toCloudFormation());
  const registrarCode = Object.values<any>(managementTemplate.Resources).find(r => r.Type === 'AWS::Lambda::Function').Properties.Code.ZipFile as string;
  const standaloneFile = path.join(ROOT, 'assets', 'cloudcraft-member.template.json');

  progress('module load on the Lambda runtime\'s Node');
  const handler = { inlineBytes: Buffer.byteLength(code), ...measureModuleLoad(code) };
  progress('Cloudcraft calls of the happy path');
  const calls = await measureCalls(code);
  progress('synth time');
  const synth = measureSynth();
  const registrar = await measureRegistrar();
  const registrarScenarios = await measureRegistrarScenarios();
  const emptyList = registrarScenarios.emptyList;
  const { diagrams, together } = await measureDiagrams();

  const templates = {
    singleAccountStackBytes: single.templateFileBytes,
    singleAccountStackMinifiedBytes: Buffer.byteLength(JSON.stringify(single.template)),
    memberTemplateBytes: Buffer.byteLength(memberBody),
    registrarInlineBytes: Buffer.byteLength(registrarCode),
    memberTemplateStandaloneFileBytes: fs.existsSync(standaloneFile) ? fs.statSync(standaloneFile).size : null,
    integrationTemplateStandaloneFileBytes: sizeOf(path.join(ROOT, 'assets', 'cloudcraft-integration.template.json')),
    organizationTemplateStandaloneFileBytes: sizeOf(path.join(ROOT, 'assets', 'cloudcraft-organization.template.json')),
    inlineTemplateBodyLimitBytes: 51_200,
  };
  const resources = {
    cloudcraftIntegrationStack: { ...resourceCount(single.template), fileAssets: single.fileAssets },
    organizationMemberStack: resourceCount(memberTemplate),
    organizationManagementStack: resourceCount(managementTemplate),
    anchors: {
      bareRole: { ...resourceCount(bareRole.template), fileAssets: bareRole.fileAssets },
      providerFramework: { ...resourceCount(provider.template), fileAssets: provider.fileAssets },
    },
  };

  const synth50 = synth.runs.find(s => s.stacks === 50)!;
  const targets = [
    { figure: 'module load ms (median, Node 24)', measured: handler.moduleLoadMs.median, target: '<= 50', meets: handler.moduleLoadMs.median <= 50 },
    // A list, the POST, and one more list (the last is what makes two deliveries end on one registration).
    { figure: 'calls: Create', measured: calls.create.measured, target: `<= ${calls.create.minimum + 2}`, meets: calls.create.measured <= calls.create.minimum + 2 },
    { figure: 'calls: Update', measured: calls.updateName.measured, target: `= ${calls.updateName.minimum}`, meets: calls.updateName.measured === calls.updateName.minimum },
    { figure: 'calls: Delete', measured: calls.delete.measured, target: `= ${calls.delete.minimum}`, meets: calls.delete.measured === calls.delete.minimum },
    ...registrar.flatMap(r => {
      // Of what the limit leaves: all of it (0.95), or less another user's share (0.9); a short run's edges weigh more.
      const floor = r.foreign ? 0.9 : r.accounts < 1_000 ? 0.9 : 0.95;
      return [
        {
          figure: `registrar ${r.accounts}, ${r.reading}: throughput of limit, 429s of calls, duplicates`,
          measured: `${r.throughputOfLimit}, ${r.rejected429OfCalls}, ${r.duplicates}`,
          target: `>= ${floor}, <= 0.01, 0`,
          meets: r.throughputOfLimit >= floor && r.rejected429OfCalls <= 0.01 && r.duplicates === 0 && r.registered === r.accounts,
        },
        { figure: `registrar ${r.accounts}, ${r.reading}: no-change run calls`, measured: r.noChangeRunCalls, target: '= 1', meets: r.noChangeRunCalls === 1 },
      ];
    }),
    {
      figure: `registrar ${emptyList.accounts}, one empty list in the middle: POSTs of that run, duplicates, orphans`,
      measured: `${emptyList.postsOfTheBadRun}, ${emptyList.duplicates}, ${emptyList.orphans}`,
      target: '0, 0, 0',
      meets: [emptyList.postsOfTheBadRun, emptyList.duplicates, emptyList.orphans].every(x => x === 0),
    },
    {
      figure: 'registrar: seconds a CloudFormation Update waits for its answer while a run is in progress',
      measured: registrarScenarios.deployAnswer.answerSeconds,
      target: '< 10',
      meets: registrarScenarios.deployAnswer.answerSeconds < 10 && registrarScenarios.deployAnswer.applied,
    },
    {
      figure: 'synth ratio at 50 stacks, app time (to bare roles)',
      measured: synth50.ratioToBareRole.app,
      target: '<= 1.5',
      meets: synth50.ratioToBareRole.app <= 1.5,
    },
    {
      figure: 'synth ratio at 50 stacks, process (to bare roles)',
      measured: synth50.ratioToBareRole.processWall,
      target: '<= 1.5',
      meets: synth50.ratioToBareRole.processWall <= 1.5,
    },
    {
      figure: 'synth ratio at 50 stacks, app time (to Provider framework)',
      measured: synth50.ratioToProviderFramework.app,
      target: '<= 1.5',
      meets: synth50.ratioToProviderFramework.app <= 1.5,
    },
    ...diagramTargets(diagrams, together),
    { figure: 'member template bytes (minimal policy)', measured: templates.memberTemplateBytes, target: '<= 10240', meets: templates.memberTemplateBytes <= 10_240 },
  ];

  const report = {
    benchmark: 'cdk-cloudcraft',
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    machine: host,
    settings: { repeats: REPEATS, quick: QUICK },
    handler,
    cloudcraftCalls: calls,
    registrar,
    registrarScenarios,
    diagrams,
    registrationDuringDiagrams: together,
    synth,
    templates,
    resources,
    targets,
    benchSeconds: Math.round(ms(started) / 1000),
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  fs.writeFileSync(REPORT_FILE, json);
  process.stdout.write(json);
  // The full run is the one docs/performance.md shows.
  if (!QUICK && !repeatsGiven) {
    fs.writeFileSync(PERFORMANCE_DOC, renderPerformance(report));
    progress(`wrote ${path.relative(process.cwd(), PERFORMANCE_DOC)}`);
  }

  const rows: string[][] = [['figure', 'measured', 'target', ''], ...targets.map(t => [t.figure, String(t.measured), t.target, t.meets ? 'ok' : 'MISSED'])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)));
  process.stderr.write(`\n${rows.map(r => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n')}\n`);
  process.stderr.write(`\nresources per stack: CloudcraftIntegration ${resources.cloudcraftIntegrationStack.total} `
    + `(${resources.cloudcraftIntegrationStack.lambdaFunctions} function, ${resources.cloudcraftIntegrationStack.fileAssets} file assets); `
    + `bare role ${resources.anchors.bareRole.total}; Provider framework equivalent ${resources.anchors.providerFramework.total} `
    + `(${resources.anchors.providerFramework.lambdaFunctions} functions, ${resources.anchors.providerFramework.fileAssets} file assets)\n`
    + `synth, one more stack: CloudcraftIntegration ${synth.marginalMsPerStack.cloudcraftIntegration} ms, bare role `
    + `${synth.marginalMsPerStack.bareRole} ms, Provider framework equivalent ${synth.marginalMsPerStack.providerFramework} ms\n`
    + `handler first use: Secrets Manager client ${handler.firstUse.secretsManagerClientLoadMs.median} ms, `
    + `first fetch ${handler.firstUse.firstFetchMs.median} ms (module load ${handler.moduleLoadMs.median} ms)\n`
    + `report: ${path.relative(process.cwd(), REPORT_FILE)}\n`);
}

main().catch(err => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
