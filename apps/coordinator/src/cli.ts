import { main } from "./index";

// Exits as soon as the command is done: a graceful shutdown cut off by its timeout leaves handles
// (hung database connections) that must not keep the process alive.
void main(process.argv.slice(2)).then((code) => process.exit(code));
