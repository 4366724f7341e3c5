const { projectPreset } = require('../../jest.preset');

module.exports = projectPreset(__dirname, { displayName: 'e2e', testMatch: ['**/*.e2e-spec.ts'] });
