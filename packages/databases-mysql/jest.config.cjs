// The @databases/mysql pool in the tests reads DATETIME values in local time (its default); a zone
// far from UTC makes a wrong conversion visible. Set here, before jest starts its workers, so that
// their clocks run in it from the start.
process.env.TZ = "Asia/Kolkata";

module.exports = require("../../jest.preset.cjs").withDatabase;
