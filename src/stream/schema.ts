// A tiny schema library for validating JSON messages once at the boundary: each field declares its type,
// limits and default in one place, the TypeScript type is inferred from the same definition, and a
// failure names the field, what was expected and what arrived. (Small enough to own; a dependency such as
// zod would add ~60 kB for five message types.)

export class SchemaError extends Error {
  constructor(readonly path: string, readonly expected: string, readonly received: unknown) {
    super(`${path}: expected ${expected}, got ${describe(received)}`);
    this.name = 'SchemaError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

export interface Schema<T> {
  /** Validates `value` (undefined = field absent) and returns it with defaults applied. */
  parse(value: unknown, path: string): T;
  /** Human description for docs and errors. */
  readonly description: string;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export function number(options: { min?: number; max?: number; integer?: boolean; oneOf?: readonly number[]; default?: number }): Schema<number> {
  const parts: string[] = [options.integer ? 'an integer' : 'a number'];
  if (options.oneOf) parts.push(`one of ${options.oneOf.join(', ')}`);
  else if (options.min !== undefined && options.max !== undefined) parts.push(`from ${options.min} to ${options.max}`);
  const description = parts.join(' ');
  return {
    description,
    parse(value, path) {
      if (value === undefined && options.default !== undefined) return options.default;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new SchemaError(path, description, value);
      if (options.integer && !Number.isInteger(value)) throw new SchemaError(path, description, value);
      if (options.oneOf && !options.oneOf.includes(value)) throw new SchemaError(path, description, value);
      if ((options.min !== undefined && value < options.min) || (options.max !== undefined && value > options.max)) throw new SchemaError(path, description, value);
      return value;
    },
  };
}

export function string<const T extends string = string>(options: { maxLength: number; oneOf?: readonly T[]; default?: NoInfer<T>; nonBlank?: boolean; pattern?: { regex: RegExp; description: string } }): Schema<T> {
  const description = options.oneOf
    ? `one of ${options.oneOf.map((x) => JSON.stringify(x)).join(', ')}`
    : `${options.nonBlank ? 'a non-blank string' : options.pattern ? options.pattern.description : 'a string'} of at most ${options.maxLength} characters`;
  return {
    description,
    parse(value, path) {
      if (value === undefined && options.default !== undefined) return options.default;
      if (typeof value !== 'string' || value.length > options.maxLength) throw new SchemaError(path, description, value);
      if (options.oneOf && !options.oneOf.includes(value as T)) throw new SchemaError(path, description, value);
      if (options.nonBlank && value.trim().length === 0) throw new SchemaError(path, description, value);
      if (options.pattern && !options.pattern.regex.test(value)) throw new SchemaError(path, description, value);
      return value as T;
    },
  };
}

/** Any JSON value, passed through (e.g. a ping's opaque timestamp), bounded in serialized size. */
export function opaque(maxJsonLength: number): Schema<unknown> {
  const description = `any JSON value up to ${maxJsonLength} characters`;
  return {
    description,
    parse(value, path) {
      if (value !== undefined && JSON.stringify(value).length > maxJsonLength) throw new SchemaError(path, description, value);
      return value;
    },
  };
}

export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return {
    description: `${schema.description} (optional)`,
    parse(value, path) {
      return value === undefined ? undefined : schema.parse(value, path);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type ObjectOf<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

/**
 * An object with the given fields. Unknown fields are ignored (newer clients may send more).
 * `whenAbsent: 'defaults'` lets the whole object be left out, giving every field's default.
 */
export function object<S extends Shape>(shape: S, options: { whenAbsent?: 'defaults' | 'error' } = {}): Schema<ObjectOf<S>> {
  const description = 'an object';
  return {
    description,
    parse(value, path) {
      if (value === undefined && options.whenAbsent === 'defaults') value = {};
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SchemaError(path, description, value);
      const source = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(shape)) {
        const parsed = shape[key].parse(Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined, `${path}.${key}`);
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as ObjectOf<S>;
    },
  };
}
