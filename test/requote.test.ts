/**
 * tools/requote.ts: the bundles' double-quoted strings become single-quoted (each `"` costs a `\"` in a template).
 * Checked by running code before and after, and by the checker's ability to see a change.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { requote, sameProgram } from '../tools/requote';

const SAMPLE = [
  'var a={"content-type":"application/json","it\'s":"x"};',
  'var b="line\\nbreak\\\\ and tab\\t and \\u2028 and \\u00e9 and \\"quoted\\"";',
  'var r=/"[^"]*"/g, t=`a "template" ${"in" + \'side\'}`;',
  'function f(){"use strict";return [a["content-type"],a["it\'s"],b,r.source,t,"a"+"b",typeof "x"]}',
  'exports.f=f;',
].join('\n');

function run(code: string): unknown {
  const context = { exports: {} as Record<string, () => unknown> };
  vm.runInNewContext(code, context);
  return context.exports.f();
}

test('strings change quotes, values do not: the code computes the same', () => {
  const out = requote(SAMPLE);
  expect(out).not.toBe(SAMPLE);
  expect(out).toContain("'content-type'");
  expect(out).toContain('"it\'s"'); // holds a single quote: left as it was
  expect(out).toContain('/"[^"]*"/g'); // a regular expression, not a string
  expect(out).toContain('`a "template" ${\'in\''); // the template keeps its quotes; the string inside is single-quoted
  expect(run(out)).toEqual(run(SAMPLE));
  expect(sameProgram(SAMPLE, out)).toBe(true);
});

test('the checker sees a changed value, a changed regular expression and code that does not parse', () => {
  expect(sameProgram('var a="x";', "var a='x';")).toBe(true);
  expect(sameProgram('var a="x";', "var a='y';")).toBe(false);
  expect(sameProgram('var r=/"a"/;', "var r=/'a'/;")).toBe(false);
  expect(sameProgram('var a="x";', 'var a="x"')).toBe(false);
  expect(sameProgram('var a="x";', "var a='x;")).toBe(false);
});

test('the shipped bundles are requoted (a few double quotes left, inside strings that hold a single one)', () => {
  for (const file of ['registration-handler.js', 'registrar.js']) {
    const code = fs.readFileSync(path.join(__dirname, '..', 'assets', file), 'utf8');
    expect(code.split('"').length - 1).toBeLessThan(60);
    expect(requote(code)).toBe(code); // nothing left to do
  }
});
