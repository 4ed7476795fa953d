// Validates an OpenAPI document with @seriousme/openapi-schema-validator (a real OpenAPI 3
// validator, from npm) and prints its paths and methods as JSON, for
// test/integration/test_admin_api.py to compare with the routes policyd serves.
//   node check.js ../../docs/openapi.yaml   -> {"valid": true, "paths": {"/x": ["GET"]}}
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import YAML from "yaml";

const file = process.argv[2];
const validator = new Validator();
const result = await validator.validate(file);
const doc = YAML.parse(readFileSync(file, "utf8"));
const methods = ["get", "put", "post", "patch", "delete"];
const paths = {};
for (const [path, item] of Object.entries(doc.paths || {})) {
  paths[path] = methods.filter((m) => m in item).map((m) => m.toUpperCase());
}
console.log(JSON.stringify({ valid: result.valid, errors: result.errors || [], paths }));
process.exit(result.valid ? 0 : 1);
