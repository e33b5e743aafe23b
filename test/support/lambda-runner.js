// Runs a Lambda handler file the way the Node.js runtime does: a fresh process loads <dir>/index.js (CommonJS),
// calls exports.handler(event, context) and waits for its promise. Reads {event, remainingMs} from stdin.
'use strict';
const path = require('path');

let input = '';
process.stdin.on('data', chunk => (input += chunk));
process.stdin.on('end', async () => {
  const { event, remainingMs } = JSON.parse(input);
  const deadline = Date.now() + remainingMs;
  const module = require(path.join(process.argv[2], 'index.js'));
  if (typeof module.handler !== 'function') throw new Error('index.handler is not a function');
  await module.handler(event, {
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    functionName: 'CloudcraftHandler',
    awsRequestId: event.RequestId,
  });
});
