export * from './job-states';
export * from './job-kind';
export * from './job.migration';
export * from './job-item-index.migration';
export * from './job-write-costs.migration';
export * from './job-store';
export * from './job-worker';
export * from './job-watch';
export { retryOnDeadlock } from './group-commit';
