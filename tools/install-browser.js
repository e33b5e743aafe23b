// Debian's Chromium for the browser test of the diagrams' index page (test/diagrams-browser.test.ts): installed with
// apt when it is missing (playwright-core drives it; its own browser downloads are not reachable from the build
// machines). Run by the test task before jest (`npx projen install:browser`); exits non-zero when it cannot install it.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

if (fs.existsSync(CHROMIUM)) process.exit(0);
if (typeof process.getuid === 'function' && process.getuid() !== 0) {
  process.stderr.write(`install:browser: ${CHROMIUM} is missing. Install Debian's chromium (sudo apt-get install -y chromium), or set CHROMIUM_PATH.\n`);
  process.exit(1);
}
const apt = (...args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
process.stderr.write('install:browser: installing Debian\'s chromium (apt-get)\n');
if (apt('update', '-qq').status !== 0 || apt('install', '-y', '-qq', '--no-install-recommends', 'chromium').status !== 0 || !fs.existsSync(CHROMIUM)) {
  process.stderr.write(`install:browser: apt-get could not install chromium (${CHROMIUM} is still missing).\n`);
  process.exit(1);
}
