/**
 * Media types (RFC 9110 §8.3.1): `type/subtype` and `; name=value` parameters, values as tokens or
 * quoted strings, ASCII only. A content type a client gives us may end up in a response header, so
 * anything else (a line break above all) is refused rather than stored.
 */

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
// qdtext and quoted-pair without obs-text: tab, space and visible ASCII, `"` and `\` only escaped.
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

/** Longer ones are refused too: no real media type needs more. */
export const MAX_MEDIA_TYPE_LENGTH = 200;

/** Whether `value` is a media type we can store and send back in a Content-Type header. */
export function isMediaType(value: string): boolean {
  return value.length <= MAX_MEDIA_TYPE_LENGTH && MEDIA_TYPE.test(value);
}
