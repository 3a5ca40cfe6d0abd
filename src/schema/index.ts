/**
 * JSON Schemas (schemas/*.schema.json) as TypeScript types and validators.
 * The types are generated (./types.ts, `npm run gen:types`); never write them by hand.
 */
export type * from "./types.ts"
export {
  formatErrors,
  isValid,
  SCHEMA_BASE_URI,
  SCHEMA_DIR_URL,
  SCHEMA_NAMES,
  schemaProblems,
  schemaUri,
  validate,
  validatorFor,
  type ValidateOptions,
} from "./validate.ts"
