// Prints the glTF-Validator report (JSON) for a GLB or glTF file.
// Usage: node validate.js model.glb            -> one report object
//        node validate.js a.glb b.glb ...      -> an array of reports, in argument order
// Exit status: 0 when no report has errors, 1 when one has, 2 on bad usage or unreadable input.
'use strict';

const fs = require('fs');
const path = require('path');
const validator = require('gltf-validator');

async function validate(file) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  // maxIssues 0 = report every issue.
  return validator.validateBytes(bytes, { uri: path.basename(file), maxIssues: 0 });
}

async function main(files) {
  if (files.length === 0) {
    console.error('usage: node validate.js <file.glb> [more.glb ...]');
    return 2;
  }
  let reports;
  try {
    reports = [];
    for (const file of files) reports.push(await validate(file));
  } catch (err) {
    console.error(String(err));
    return 2;
  }
  const out = files.length === 1 ? reports[0] : reports;
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return reports.some((r) => r.issues.numErrors > 0) ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
