// Small helpers the generated codec calls when encoding values a version cannot carry.
import { CodecError, CodecErrorCode } from './errors.ts';

export function fieldNotInVersion(struct: string, field: string, version: number): CodecError {
  return new CodecError(
    CodecErrorCode.FieldNotInVersion,
    `${struct}.${field} has a non-default value but version ${version} cannot carry it; use a version that has the field or leave it at its default`,
  );
}

export function fieldNull(field: string, version: number): CodecError {
  return new CodecError(CodecErrorCode.UnexpectedNull, `${field} is null but is not nullable in version ${version}`);
}

export function notNull<T>(value: T | null, field: string, version: number): T {
  if (value === null) throw fieldNull(field, version);
  return value;
}
