// Layer 1: the IAM role Cloudcraft assumes, and the access it grants.
export * from './role';
