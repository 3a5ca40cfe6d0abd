/**
 * Per-document access, pure: signed policy records and the decisions they yield,
 * actor bindings, and the attribution of changes to their authors by signed heads.
 */
export * from "./policy.ts"
export * from "./actorBinding.ts"
export * from "./signedHeads.ts"
export * from "./changeHeader.ts"
