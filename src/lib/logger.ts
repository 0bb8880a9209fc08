import { pino, type Logger } from 'pino';

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
    },
    destination,
  );
}

/** A logger that writes nothing, for tests and tools that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
