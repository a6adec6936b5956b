// Parse an AsyncAPI document (a file path, or - for stdin) with @asyncapi/parser; print its
// diagnostics as JSON lines and exit 1 if any is an error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const source = process.argv[2] === "-" || !process.argv[2] ? 0 : process.argv[2];
const text = readFileSync(source, "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
let errors = 0;
for (const d of diagnostics) {
  // severity: 0 error, 1 warning, 2 info, 3 hint
  if (d.severity === 0) errors += 1;
  console.log(JSON.stringify({ severity: d.severity, code: d.code, path: d.path.join("."), message: d.message }));
}
if (document) {
  const ops = document.operations().all().map((op) => `${op.action()} ${op.messages().all().map((m) => m.name()).join(",")}`);
  console.log(JSON.stringify({ operations: ops.length, messages: document.allMessages().all().length }));
}
process.exit(errors || !document ? 1 : 0);
