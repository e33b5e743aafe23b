// Layer 1: the IAM role Cloudcraft assumes, and the access it grants.
export * from './role';
// Layer 2: registration with Cloudcraft's API (custom resource), and the integration of both.
export * from './registration';
// Layer 3: the rollout to an AWS Organization, through a service-managed StackSet.
export * from './organization';
// Layer 4: living diagrams: each connected account's diagram kept in S3, and its changes announced.
export * from './diagrams';
