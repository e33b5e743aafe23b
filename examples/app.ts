import { App } from 'aws-cdk-lib';
import { accessFromContext, CloudcraftExampleStack } from './cloudcraft-example-stack';

const app = new App();
new CloudcraftExampleStack(app, 'CloudcraftExampleStack', {
  access: accessFromContext(app.node.tryGetContext('access')),
  description: 'Cloudcraft integration example (cdk-cloudcraft)',
});
app.synth();
