/**
 * Layer 5, collaboration: cross-instance sessions. The pure core (definition, state,
 * decisions and agreements, the channel inbox, quality, retention) and the SessionService
 * shell that keeps it in documents across hubs.
 */
export * from "./config.ts"
export * from "./state.ts"
export * from "./decisions.ts"
export * from "./channel.ts"
export * from "./quality.ts"
export * from "./retention.ts"
export { SESSION_PURPOSE } from "./signed.ts"
export { SessionService, type SessionView, type SessionSummary, type MessageView, type SharedDocView } from "./SessionService.ts"
