import { pino, type Logger } from 'pino';
import { logContext } from './log-context.js';

export type { Logger };

/** Paths never written to logs: credentials, tokens and secrets wherever they appear. */
export const REDACT_PATHS = [
  'authorization',
  'req.headers.authorization',
  '*.authorization',
  '*.component_appsecret',
  '*.component_access_token',
  '*.authorizer_access_token',
  '*.authorizer_refresh_token',
  '*.component_verify_ticket',
  '*.access_token',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.encodingAesKey',
  '*.refreshToken',
];

export function createLogger(options: { level?: string; name?: string } = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'wxlive',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // The request, tenant, application and job being served, on every line however deep it is written.
      mixin: logContext,
    },
    destination,
  );
}

/** A logger that writes nothing, for tests and tools that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
