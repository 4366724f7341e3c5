// Every project's jest configuration; `npm test` runs them all in one jest process.
module.exports = {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js'],
  // A global option (ignored inside projects): integration tests talk to real MySQL, NATS and processes.
  testTimeout: 30_000,
};
