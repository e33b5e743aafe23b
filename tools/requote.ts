/**
 * Rewrites the double-quoted string literals of a bundled Lambda file with single quotes, where the value holds no
 * single quote. The code is inlined in CloudFormation templates (ZipFile), where every `"` is written `\"`: one
 * byte more per quote, which the Organization template (near the 51,200 bytes of a template file) cannot spare.
 * esbuild has no option for the quote it prefers.
 *
 * The literals are found by TypeScript's parser (not by a pattern: a quote inside a regular expression or a
 * template is not a string literal), and the result is checked before it is written: parsed again, it must have the
 * same syntax tree, token for token, with every string literal's value unchanged (`sameProgram`).
 * Run by the bundle:handler task: `ts-node tools/requote.ts <file>...`.
 */
import * as fs from 'fs';
import * as ts from 'typescript';

function parse(code: string): ts.SourceFile {
  return ts.createSourceFile('bundle.js', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
}

function singleQuoted(value: string): string {
  return `'${value.replace(/[\\\n\r\u2028\u2029]/g, c => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\u2028': '\\u2028', '\u2029': '\\u2029' } as Record<string, string>)[c])}'`;
}

/** The code with its double-quoted string literals single-quoted where that needs no escape. */
export function requote(code: string): string {
  const source = parse(code);
  if ((source as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics.length > 0) throw new Error('requote: the code does not parse');
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) && code[node.getStart(source)] === '"' && !node.text.includes("'")) {
      edits.push({ start: node.getStart(source), end: node.end, text: singleQuoted(node.text) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = code;
  for (const edit of edits.reverse()) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  if (!sameProgram(code, out)) throw new Error('requote: the rewritten code is not the same program');
  return out;
}

/** Whether two sources parse to the same tree: the same kinds, the same leaf tokens, the same string values. */
export function sameProgram(a: string, b: string): boolean {
  const leaves = (code: string): string[] => {
    const source = parse(code);
    if ((source as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics.length > 0) return ['<does not parse>'];
    const out: string[] = [];
    const visit = (node: ts.Node): void => {
      const children = node.getChildren(source);
      if (ts.isStringLiteral(node)) {out.push(`${node.kind}:${JSON.stringify(node.text)}`);} else if (children.length === 0) {out.push(`${node.kind}:${node.getText(source)}`);} else {
        out.push(`${node.kind}(`);
        children.forEach(visit);
        out.push(')');
      }
    };
    visit(source);
    return out;
  };
  const [x, y] = [leaves(a), leaves(b)];
  return x.length === y.length && x.every((leaf, i) => leaf === y[i]);
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) {
    const code = fs.readFileSync(file, 'utf8');
    const out = requote(code);
    fs.writeFileSync(file, out);
    const quotes = (text: string) => text.split('"').length - 1;
    process.stdout.write(`${file}: ${quotes(code)} double quotes, ${quotes(out)} after\n`);
  }
}
