export * from './proto-files';
export * from './event-subjects';
