/**
 * Secrets never reach a message, a log line or a --debug stack. Two rules: the password part of
 * any URL (`scheme://user:password@host`) is masked wherever it appears in a text, and every value
 * registered as a secret (the generated stack credentials, a SASL password) is masked literally,
 * so it is hidden even where it is not inside a URL (an AUTH error echoing it, a kafkajs log).
 */
const secrets = new Set<string>();

/** Register a value to be masked in everything `maskSecrets` cleans (idempotent). */
export const registerSecret = (value: string): void => {
  // Very short values would mask unrelated text; generated secrets are long.
  if (value.length >= 6) secrets.add(value);
};

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi;

export const maskSecrets = (text: string): string => {
  let out = text.replace(URL_PASSWORD, '$1:***@');
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
};
