import type { LoggerService } from '@nestjs/common';
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { currentRequestId } from '../context';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level: LevelWithSilent;
  /** Where JSON lines go; stdout when omitted. Tests pass a stream to read what was logged. */
  destination?: pino.DestinationStream;
}

/**
 * Paths that may hold secrets. Outside API tokens and JWTs must never reach a log in full.
 */
const REDACTED_PATHS = [
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.token',
];

/** The process logger: JSON lines with service name and, inside a request, its request id. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/**
 * Routes NestJS's own log calls (bootstrap, module init, exceptions) into the pino logger, so a
 * process writes one JSON stream. Hand-written because nestjs-pino's value is HTTP request logging,
 * which our gRPC services do not have; this adapter is all they need.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const ctx = context ?? stackOrContext;
    const stack = context ? stackOrContext : undefined;
    if (message instanceof Error) this.logger.error({ err: message, context: ctx }, message.message);
    else this.logger.error({ context: ctx, stack }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, context?: string): void {
    if (typeof message === 'object' && message !== null) this.logger[level]({ context, ...message });
    else this.logger[level]({ context }, String(message));
  }
}
