/**
 * Writes the Organization member template (the Cloudcraft role only, with the home-region guard) as a standalone CloudFormation file, for users without CDK (Console
 * quick-create, a self-managed StackSet, Customizations for Control Tower): assets/cloudcraft-member.template.json.
 * Run by the build (`npx projen member-template`); shipped in the npm package.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildMemberTemplate } from '../lib/organization/member-template';

export const MEMBER_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-member.template.json');

if (require.main === module) {
  const template = buildMemberTemplate(new App(), {});
  fs.mkdirSync(path.dirname(MEMBER_TEMPLATE_FILE), { recursive: true });
  fs.writeFileSync(MEMBER_TEMPLATE_FILE, `${JSON.stringify(template, null, 1)}\n`);
  process.stdout.write(`${path.relative(process.cwd(), MEMBER_TEMPLATE_FILE)}: ${fs.statSync(MEMBER_TEMPLATE_FILE).size} bytes\n`);
}
