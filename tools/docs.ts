/**
 * The generated parts of docs/ (`npx projen docs`):
 * - docs/role.md: the table of denied data reads, from lib/role/data-read-deny.ts (between markers);
 * - docs/performance.md: from a benchmark report (`renderPerformance`, called by the full `npm run bench`, or
 *   `ts-node tools/docs.ts --performance [report.json]` to render the last report again).
 * test/docs.test.ts fails when docs/role.md is out of date.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DENIED_DATA_READS } from '../lib/role/data-read-deny';

export const ROLE_DOC = path.join(__dirname, '..', 'docs', 'role.md');
export const PERFORMANCE_DOC = path.join(__dirname, '..', 'docs', 'performance.md');
const START = '<!-- denied-data-reads:start (generated from lib/role/data-read-deny.ts by `npx projen docs`: do not edit) -->';
const END = '<!-- denied-data-reads:end -->';

/** The markdown table of denied data reads. */
export function renderDeniedReads(): string {
  const rows = DENIED_DATA_READS.map(d => `| \`${d.action}\` | ${d.reason} |`);
  return ['| denied action | why: a diagram never needs |', '| --- | --- |', ...rows].join('\n');
}

/** The document with its generated section replaced. */
export function withDeniedReads(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/role.md has lost its markers ${START} ... ${END}`);
  return `${doc.slice(0, start + START.length)}\n${renderDeniedReads()}\n${doc.slice(end)}`;
}

const n = (x: number): string => x.toLocaleString('en-US');
/** Simulated minutes, in hours from two hours on. */
const minutes = (x: number): string => (x >= 120 ? `${(x / 60).toFixed(1)} h` : `${x} min`);

/** The section of the diagram work (a report from before it had none: nothing). */
function renderDiagrams(report: any): string {
  const diagrams = (report.diagrams ?? []) as any[];
  const together = (report.registrationDuringDiagrams ?? []) as any[];
  if (diagrams.length === 0 && together.length === 0) return '';
  const rounds = diagrams.map(d => `| ${n(d.accounts)} x 1 | ${d.scanMs / 1000} s | ${minutes(d.simulatedMinutesForRound)} | ${d.invocations} `
    + `| ${d.throughputOfShare} | ${d.rejected429} | ${n(d.noChangeDay.jsonCalls)} / ${d.noChangeDay.imageCalls} / ${d.noChangeDay.events} `
    + `| ${n(d.fivePercentDay.imageCalls)} / ${n(d.fivePercentDay.events)} (${n(d.fivePercentDay.changed)} changed) | ${d.registrationMaxWaitSeconds} s |`);
  const registrations = together.map(t => `| ${n(t.accounts)} x 1, scans of ${t.scanMs / 1000} s | ${t.withDiagrams.registrationSeconds.median} s / `
    + `${t.withDiagrams.registrationSeconds.max} s | ${t.withoutDiagrams.registrationSeconds.median} s / ${t.withoutDiagrams.registrationSeconds.max} s `
    + `| ${t.withDiagrams.registrarRejected429} / ${t.withoutDiagrams.registrarRejected429} | ${t.withDiagrams.registrarCalls} / ${t.withoutDiagrams.registrarCalls} `
    + `| ${t.withDiagrams.diagramAcceptedInMinuteBeforeTrigger} |`);
  // The cases where registration was slower with the round than without it.
  const slower = together.map(t => ({
    ...t,
    slower: (t.withDiagrams.registrationSeconds.each as number[]).filter((x, i) => x > t.withoutDiagrams.registrationSeconds.each[i] + 1).length,
  })).filter(t => t.slower > 0 || t.withDiagrams.registrarRejected429 > 0);
  const share = diagrams[0]?.share ?? '15 of 20 a minute';
  const samples = together[0]?.joinAtMinutes?.length ?? 0;
  // A report whose diagram cases were run apart from the rest (simulated time: the machine does not change them).
  const apart = report.diagramsRun;
  return `
## Living diagrams

The diagram work's real function on virtual time against the emulator (20 per 60 s, 429s counted), one region per
account: a round from the schedule (ticks every 15 minutes continue it), the next day with no change, and a day where
5% of the diagrams changed. Its share of the key is ${share}; "of its share used" is its accepted calls over
that share per started minute of the round.${apart ? `
The figures of this section come from a run of only these cases on ${apart.date.slice(0, 10)}, commit ${apart.commit}${apart.uncommittedChanges ? ' with uncommitted changes' : ''}.` : ''}
${rounds.length ? `
| accounts x regions | scan | round | invocations | of its share used | 429s | no change: JSON / image calls / events | 5% changed: image calls / events | registration's wait (estimate) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rounds.join('\n')}

The last column is an estimate: the longest wait the pacer's own state, with no reserve, gave a registration request
at any minute of the round. The table below measures it.
` : ''}${registrations.length ? `
Registration while a round is in progress: the real registrar and the real diagram function on one clock, one
emulator and one record of the key's pacing (the item of the registrar's ledger both use). The registrar first
registers the Organization from its deployment; the next day a round opens, and at minute 20 a new account's stack
instance becomes CURRENT and its StackInstance event starts the registrar: ${samples} worlds, at ${samples} points of
that minute. The same worlds without the round are the anchor; 429s and calls are of all the worlds together.

| round (accounts x regions) | seconds to the new account's POST, with the round: median / longest | without: median / longest | registrar's 429s: with / without | registrar's calls: with / without | diagram calls accepted in the minute before (most) |
| --- | --- | --- | --- | --- | --- |
${registrations.join('\n')}
${slower.map(t => `
With scans of ${t.scanMs / 1000} s the new account waited longer than without the round in ${t.slower} of ${t.joinAtMinutes.length} worlds, \
and the registrar met ${t.withDiagrams.registrarRejected429} 429s: the diagram work had ${t.withDiagrams.diagramAcceptedInMinuteBeforeTrigger} calls \
accepted in the minute before the trigger, against the ${20 - t.reservePerMinute} of 20 its share allows.
`).join('')}` : ''}`;
}

/** docs/performance.md from a benchmark report (tools/bench.ts). Every figure comes from the report. */
export function renderPerformance(report: any): string {
  const m = report.machine;
  const h = report.handler;
  const c = report.cloudcraftCalls;
  const t = report.templates;
  const r = report.resources;
  const s50 = report.synth.runs.find((x: any) => x.stacks === 50);
  const registrar = (report.registrar as any[]).map(x =>
    `| ${n(x.accounts)} | ${x.reading} | ${minutes(x.simulatedMinutesToRegisterAll)} `
    + `| ${x.runs} | ${x.throughputOfLimit} | ${x.rejected429OfCalls} | ${x.callsPerAccount} | ${x.duplicates} | ${x.noChangeRunCalls} |`);
  const targets = (report.targets as any[]).map(x => `| ${x.figure} | ${x.measured} | ${x.target} | ${x.meets ? 'met' : '**missed**'} |`);
  const row = (name: string, x: any): string => `| ${name} | ${x.total} | ${x.lambdaFunctions} | ${x.iamRoles} | ${x.fileAssets ?? 0} |`;
  return `# Performance

Generated by \`npm run bench\` (full run, ${report.settings.repeats} repeats) from its report: do not edit. Run on \
${m.date.slice(0, 10)}, commit ${m.commit}${m.uncommittedChanges ? ' with uncommitted changes' : ''}, ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, \
Node ${m.node} (synth) and ${h.node} (handler), aws-cdk-lib ${m.awsCdkLib}; the bench took ${report.benchSeconds} s.

Timings are medians; the registrar's and the diagram work's figures are simulated time (their real code on virtual
time against the Cloudcraft emulator), so they do not depend on the machine. How to run it: [CONTRIBUTING.md](../CONTRIBUTING.md#benchmark).

## Organization registrar

| accounts | rate limit (reading) | time to register all | runs | of the limit used | 429s per call | calls per account | duplicates | calls of a run that changes nothing |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${registrar.join('\n')}

A run lasts at most 15 minutes; the registrar continues itself. A new account is registered in the run its
stack-instance event starts (EventBridge delivery and Lambda start are not modelled). Each case starts from the
deployment: the IAM parameters call, then the registrar's Create. With another user of the key, "of the limit used"
is of what that user leaves (16 of 20).

| scenario | measured |
| --- | --- |
| ${n(report.registrarScenarios.emptyList.accounts)} accounts, one empty answer of the list: POSTs / PUTs of that run; then duplicates / orphans | ${report.registrarScenarios.emptyList.postsOfTheBadRun} / ${report.registrarScenarios.emptyList.putsOfTheBadRun}; ${report.registrarScenarios.emptyList.duplicates} / ${report.registrarScenarios.emptyList.orphans} |
| a CloudFormation Update a minute into a ${n(report.registrarScenarios.deployAnswer.accounts)}-account run (${report.registrarScenarios.deployAnswer.reading}): seconds to its answer | ${report.registrarScenarios.deployAnswer.answerSeconds} (its settings applied by the run after: ${report.registrarScenarios.deployAnswer.applied ? 'yes' : 'no'}) |
${renderDiagrams(report)}
## Single-account handler

| figure | measured |
| --- | --- |
| inline code, minified | ${n(h.inlineBytes)} bytes (registrar: ${n(t.registrarInlineBytes)}) |
| module load on Node.js 24 | ${h.moduleLoadMs.median} ms |
| first use: Secrets Manager client / first fetch | ${h.firstUse.secretsManagerClientLoadMs.median} ms / ${h.firstUse.firstFetchMs.median} ms |
| Cloudcraft calls: Create / Update / Delete | ${c.create.measured} / ${c.updateName.measured} / ${c.delete.measured} (minimum ${c.create.minimum} / ${c.updateName.minimum} / ${c.delete.minimum}) |
| reading the external ID (\`externalId\` left out) | +${c.externalIdLookup.measured} per stack |

Create costs a list, the POST and one more list: Cloudcraft has no idempotency key, and the last list is what
lets two deliveries of the same Create end with one registration.

## Synth and templates

| figure | measured |
| --- | --- |
| synth of 50 stacks, app time: \`CloudcraftIntegration\` / bare \`iam.Role\` | ${s50.appMs.cloudcraftIntegration.median} ms / ${s50.appMs.bareRole.median} ms (ratio ${s50.ratioToBareRole.app}; process ratio ${s50.ratioToBareRole.processWall}) |
| the same, to CDK's Provider framework equivalent | ratio ${s50.ratioToProviderFramework.app} |
| one more stack | ${report.synth.marginalMsPerStack.cloudcraftIntegration} ms (bare role ${report.synth.marginalMsPerStack.bareRole} ms, Provider framework ${report.synth.marginalMsPerStack.providerFramework} ms) |
| single-account stack template | ${n(t.singleAccountStackBytes)} bytes |
| member template (minimal policy) / standalone member template (\`ReadOnlyAccess\`) | ${n(t.memberTemplateBytes)} / ${n(t.memberTemplateStandaloneFileBytes)} bytes (StackSets' inline limit ${n(t.inlineTemplateBodyLimitBytes)}) |
| standalone templates: integration / Organization | ${n(t.integrationTemplateStandaloneFileBytes)} / ${n(t.organizationTemplateStandaloneFileBytes)} bytes (inline limit ${n(t.inlineTemplateBodyLimitBytes)}, from S3 1,000,000) |

| stack | resources | Lambda functions | IAM roles | file assets |
| --- | --- | --- | --- | --- |
${row('`CloudcraftIntegration`', r.cloudcraftIntegrationStack)}
${row('`CloudcraftOrganizationIntegration` (management account)', r.organizationManagementStack)}
${row('Organization member (StackSet body)', r.organizationMemberStack)}
${row('anchor: a bare role', r.anchors.bareRole)}
${row('anchor: the same registration behind CDK\'s Provider framework', r.anchors.providerFramework)}

## Targets

| figure | measured | target | |
| --- | --- | --- | --- |
${targets.join('\n')}
`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  fs.writeFileSync(ROLE_DOC, withDeniedReads(fs.readFileSync(ROLE_DOC, 'utf8')));
  process.stderr.write(`wrote ${path.relative(process.cwd(), ROLE_DOC)}\n`);
  const i = args.indexOf('--performance');
  if (i >= 0) {
    const file = args[i + 1] ?? path.join(__dirname, '..', '.cache', 'bench', 'report.json');
    fs.writeFileSync(PERFORMANCE_DOC, renderPerformance(JSON.parse(fs.readFileSync(file, 'utf8'))));
    process.stderr.write(`wrote ${path.relative(process.cwd(), PERFORMANCE_DOC)} from ${file}\n`);
  }
}
