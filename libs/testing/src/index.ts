export * from './free-port';
export * from './test-database';
export * from './service-process';
export * from './wait-for';
export * from './stream-events';
export * from './service-credentials';
export * from './nats-server';
export * from './mariadb-server';
