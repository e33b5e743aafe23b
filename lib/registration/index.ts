export * from './api-key';
export * from './cloudcraft-registration';
export * from './cloudcraft-iam-parameters';
export * from './cloudcraft-integration';
export * from './account-name';
