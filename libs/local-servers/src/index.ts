export * from './free-port';
export * from './restartable-process';
export * from './mariadb-server';
export * from './nats-server';
