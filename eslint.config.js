// Typed lint of src/ for promises nobody handles (issue 11: "no floating promise in src/").
// Only these two rules: style is not linted here. `npm run typecheck` runs `eslint src`.
import { defineConfig } from "eslint/config"
import tseslint from "typescript-eslint"

export default defineConfig({
  files: ["src/**/*.ts"],
  languageOptions: {
    parser: tseslint.parser,
    // the program of src/ only (tests and benches are not linted): about half the memory of the whole project
    parserOptions: { project: "./tsconfig.eslint.json", tsconfigRootDir: import.meta.dirname },
  },
  plugins: { "@typescript-eslint": tseslint.plugin },
  linterOptions: { reportUnusedDisableDirectives: "off" },
  rules: {
    // `void p` is accepted, so every voided promise in src/ must carry its own .catch that reports
    "@typescript-eslint/no-floating-promises": ["error", { ignoreVoid: true, ignoreIIFE: false }],
    "@typescript-eslint/no-misused-promises": "error",
  },
})
