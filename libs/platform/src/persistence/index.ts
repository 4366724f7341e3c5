export * from './mysql-config';
export * from './data-source';
export * from './persistence.module';
export * from './prepared-reads';
export * from './iso-timestamp';
export * from './coalesced-reads';
export * from './owner-columns.migration';
