/** A Mini Program app id: "wx" + 16 lowercase hex characters. */
export const APP_ID_PATTERN = /^wx[0-9a-f]{16}$/;

export function isAppId(value: string): boolean {
  return APP_ID_PATTERN.test(value);
}
