export * from './member-integration';
export * from './organization-integration';
