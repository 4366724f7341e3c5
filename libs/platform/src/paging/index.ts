export * from './page-window';
