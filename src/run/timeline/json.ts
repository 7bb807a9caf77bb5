/** Structural equality of JSON values (the timeline's object views). */
import type { JsonValue } from '../../vocab/records.js';

export function sameJson(a: JsonValue | { readonly [k: string]: JsonValue }, b: JsonValue | { readonly [k: string]: JsonValue }): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i += 1) if (!sameJson(a[i]!, b[i]!)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const bo = b as { readonly [k: string]: JsonValue };
  const ao = a as { readonly [k: string]: JsonValue };
  for (const k of ka) if (!(k in bo) || !sameJson(ao[k]!, bo[k]!)) return false;
  return true;
}
