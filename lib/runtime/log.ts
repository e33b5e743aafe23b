/**
 * JSON log lines, one per event, with every secret redacted (the redactor learns the key when it is read).
 */
import { Log } from './cloudcraft';
import { Redactor } from './redact';

export function makeLog(sink: (line: string) => void, redactor: Redactor, base: Record<string, unknown>): Log {
  return (level, msg, fields = {}) => {
    sink(redactor.redact(JSON.stringify({ level, msg, ...base, ...fields })));
  };
}
