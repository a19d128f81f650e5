// Structured JSON logs (pino). Every component logs through a child logger that carries its
// context (route, connection), so one line says where it happened. Secrets never reach a log:
// config passwords are `Secret` objects that print as ***, and SASL frames are never logged.
import { type Logger as PinoLogger, pino } from 'pino';
import type { LogLevel } from '../config/types.ts';

export type Logger = PinoLogger;

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'turnout' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: never print these keys even if an object carrying them is logged.
      redact: { paths: ['password', '*.password', 'sasl.password', '*.sasl.password', 'authorization', '*.authorization'], censor: '***' },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
