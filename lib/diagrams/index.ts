export * from './cloudcraft-diagrams';
