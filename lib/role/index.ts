export * from './access';
export * from './cloudcraft-role';
