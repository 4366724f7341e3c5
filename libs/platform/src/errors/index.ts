export * from './domain-error';
export * from './status-mapping';
export * from './dependency-errors';
export * from './caller';
export * from './define-errors';
