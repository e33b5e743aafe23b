export * from './organization-integration';
