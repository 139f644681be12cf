/**
 * The static type of the args a step's JSON Schema accepts, so the compiler ties each step's
 * args type to its `argsSchema` (see defineStep): a property in one and not the other, a
 * property required in one and optional in the other, or a value the schema lets through that
 * the args type does not describe, is a compile error in the step's file.
 *
 * Covers the keywords step schemas use for shapes: `type` (one or a list), `enum`, `const`,
 * `properties`/`required`/`additionalProperties: false`, `items`, `oneOf`/`anyOf`. Constraints
 * on values (`pattern`, `minimum`, ...) and `oneOf`/`anyOf` beside `properties` (which only
 * require one of the listed keys) do not change the type.
 */

type Primitive<T> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? unknown[]
          : T extends 'object'
            ? Record<string, unknown>
            : unknown;

type Flatten<T> = { [K in keyof T]: T[K] };

type ObjectFrom<S, P> = [keyof P] extends [never]
  ? S extends { additionalProperties: false }
    ? Record<string, never>
    : Record<string, unknown>
  : Flatten<
      { -readonly [K in keyof P as K extends RequiredOf<S> ? K : never]: FromSchema<P[K]> } & {
        -readonly [K in keyof P as K extends RequiredOf<S> ? never : K]?: FromSchema<P[K]>;
      }
    >;

type RequiredOf<S> = S extends { required: readonly (infer R)[] } ? R : never;

/** What a value accepted by schema `S` (declared `as const`, or inline in defineStep) is. */
export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { properties: infer P }
      ? ObjectFrom<S, P>
      : S extends { oneOf: readonly (infer O)[] }
        ? FromSchema<O>
        : S extends { anyOf: readonly (infer O)[] }
          ? FromSchema<O>
          : S extends { type: 'array'; items: infer I }
            ? FromSchema<I>[]
            : S extends { type: readonly (infer T)[] }
              ? Primitive<T>
              : S extends { type: infer T }
                ? Primitive<T>
                : unknown;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/** What is wrong between an args type `A` and the static type `F` of its schema (never: nothing). */
export type ArgsMismatch<A, F> =
  | ([Exclude<keyof A, keyof F>] extends [never] ? never : { inArgsTypeNotInSchema: Exclude<keyof A, keyof F> })
  | ([Exclude<keyof F, keyof A>] extends [never] ? never : { inSchemaNotInArgsType: Exclude<keyof F, keyof A> })
  | ([Exclude<RequiredKeys<A>, RequiredKeys<F>>] extends [never]
      ? never
      : { requiredInArgsTypeOnly: Exclude<RequiredKeys<A>, RequiredKeys<F>> })
  | ([Exclude<RequiredKeys<F>, RequiredKeys<A>>] extends [never]
      ? never
      : { requiredInSchemaOnly: Exclude<RequiredKeys<F>, RequiredKeys<A>> })
  | {
      [K in keyof F & keyof A]: [F[K]] extends [A[K]]
        ? never
        : { schemaAdmitsWhatArgsTypeDoesNot: K; schema: F[K]; argsType: A[K] };
    }[keyof F & keyof A];

/** `unknown` when schema `S` fits args type `A`, else an impossible property naming the mismatch. */
export type SchemaFits<A, S> = [ArgsMismatch<A, FromSchema<S>>] extends [never]
  ? unknown
  : { argsSchemaDoesNotFitArgsType: ArgsMismatch<A, FromSchema<S>> };
