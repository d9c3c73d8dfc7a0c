// Runs at build time with dev dependencies installed; writes a file the server serves.
const isNumber = require('is-number');
require('fs').writeFileSync(__dirname + '/built.txt', 'built with dev deps: ' + isNumber(42) + '\n');
