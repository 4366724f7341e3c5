const { projectPreset } = require('../../jest.preset');

module.exports = projectPreset(__dirname, { displayName: 'publish'});
