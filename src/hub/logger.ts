/** pino to stderr, so stdout stays for what a command prints. Never logs secrets. */
import { pino, type Logger, type LevelWithSilent } from "pino"

/** A logger for one hub; `silent` in tests keeps the output clean. */
export const createLogger = (level: LevelWithSilent, bindings: Record<string, unknown> = {}): Logger =>
  pino({ level, base: { pid: process.pid, ...bindings }, redact: ["secretKey", "seed", "token", "adminToken"] }, pino.destination(2))
