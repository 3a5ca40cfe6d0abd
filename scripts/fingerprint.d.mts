/** Types of scripts/fingerprint.mjs (plain JavaScript so bin/fedhub loads it without tsx). */
export declare const ROOT: string
export declare const DIST: string
export declare const STAMP: string
/** The fingerprint of the current sources, one "path size mtimeMs" line per file, sorted. */
export declare function fingerprint(): string
/** True when dist/ holds a complete build of exactly the current sources. */
export declare function distIsFresh(): boolean
