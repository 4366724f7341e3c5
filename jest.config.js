// Every project's jest configuration; `npm test` runs them all in one jest process.
module.exports = {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js'],
};
