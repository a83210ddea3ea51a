module.exports = require("../../jest.preset.cjs").base;
