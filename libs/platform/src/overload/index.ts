export * from './in-flight-limit';
