import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler'
import { BuiltOnce } from './built-once'

// Ajv's type coercion reads a query string, header or path parameter as a number with `+value`,
// so "1e309" becomes Infinity (which passes `integer` and every bound), and "0x10", "+1", " 1" and
// "4294967295.0" all become numbers. Every route's validator is wrapped here, once, so that a
// number comes in only in plain decimal form and finite, whatever the route's schema says.

/** A whole number as people and devices write it: digits, an optional minus, no leading zero. */
const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]{0,15})$/
/** A number with an optional plain fraction (percentages): no exponent, sign, spaces or hex. */
const CANONICAL_DECIMAL = /^-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,16})?$/

interface SchemaNode {
  type?: string | string[]
  properties?: Record<string, SchemaNode>
  items?: SchemaNode | SchemaNode[]
}

interface ValidationError {
  instancePath: string
  schemaPath: string
  keyword: string
  params: Record<string, unknown>
  message: string
}

/** Checks one value against the numeric rule of its place in the schema; returns the problem or undefined. */
type Check = (data: unknown, path: string) => ValidationError | undefined

const refusal = (path: string, message: string): ValidationError => ({
  instancePath: path,
  schemaPath: '#/canonicalNumber',
  keyword: 'canonicalNumber',
  params: {},
  message,
})

const pathOf = (base: string, key: string) => `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`

function hasType(schema: SchemaNode, type: string): boolean {
  return Array.isArray(schema.type) ? schema.type.includes(type) : schema.type === type
}

/** The checks a schema needs, built once per route; undefined when it holds no number. */
export function numberCheck(schema: SchemaNode | undefined): Check | undefined {
  if (!schema || typeof schema !== 'object') return undefined
  if (hasType(schema, 'integer')) {
    return (data, path) => {
      if (typeof data === 'string') {
        if (!CANONICAL_INTEGER.test(data) || !Number.isSafeInteger(Number(data))) {
          return refusal(path, 'must be a whole number in plain decimal digits (no +, spaces, exponent, fraction or leading zero)')
        }
      } else if (typeof data === 'number' && !Number.isSafeInteger(data)) {
        return refusal(path, 'must be a whole number within range')
      }
      return undefined
    }
  }
  if (hasType(schema, 'number')) {
    return (data, path) => {
      if (typeof data === 'string' && !CANONICAL_DECIMAL.test(data)) {
        return refusal(path, 'must be a number written in plain decimal (digits and an optional fraction, no exponent)')
      }
      if (typeof data === 'number' && !Number.isFinite(data)) return refusal(path, 'must be a finite number')
      return undefined
    }
  }
  const children: Array<[string, Check]> = []
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const check = numberCheck(child)
    if (check) children.push([key, check])
  }
  const items = Array.isArray(schema.items) ? undefined : numberCheck(schema.items)
  if (children.length === 0 && !items) return undefined
  return (data, path) => {
    if (data === null || typeof data !== 'object') return undefined
    if (Array.isArray(data)) {
      if (!items) return undefined
      for (let i = 0; i < data.length; i++) {
        const problem = items(data[i], `${path}/${i}`)
        if (problem) return problem
      }
      return undefined
    }
    const record = data as Record<string, unknown>
    for (const [key, check] of children) {
      if (!Object.prototype.hasOwnProperty.call(record, key)) continue
      const problem = check(record[key], pathOf(path, key))
      if (problem) return problem
    }
    return undefined
  }
}

type AnyValidate = ReturnType<ReturnType<BuildCompilerFromPool>>
type Wrapped = ((data: unknown, context?: unknown) => boolean) & { errors?: unknown }

/**
 * Fastify's own Ajv compiler (with the options given to Fastify), each validator preceded by the
 * numeric check of its schema, built once per schema in the process (built-once.ts). Pass as
 * `schemaController.compilersFactory.buildValidator`.
 */
export function canonicalNumberValidators(): BuildCompilerFromPool {
  const ajv = AjvCompiler()
  const validators = new BuiltOnce<AnyValidate>()
  return (externalSchemas, ajvOptions) => {
    const pool = JSON.stringify([externalSchemas, ajvOptions])
    const compile = ajv(externalSchemas, ajvOptions)
    return (route) => validators.get(pool, route.schema, () => compiledOnFirstUse(() => withNumberCheck(compile(route), route.schema)))
  }
}

/**
 * A validator compiled when it first validates, not when the app starts: compiling the routes'
 * schemas is most of an app's start-up (about 0.4 s of CPU), and a process serves many routes
 * rarely or never. Fastify passes Ajv's validators their parent object (for coercing a root value)
 * when they have a `schemaEnv`, so this one has one and hands the object on.
 */
function compiledOnFirstUse(compile: () => AnyValidate): AnyValidate {
  let run: Wrapped | undefined
  const validator: Wrapped = function (data: unknown, context?: unknown): boolean {
    run ??= compile() as unknown as Wrapped
    const ok = run(data, context)
    validator.errors = run.errors
    return ok
  }
  return Object.assign(validator, { schemaEnv: {} }) as unknown as AnyValidate
}

/** `validate` preceded by the numeric check of `schema`, or `validate` itself when it holds no number. */
function withNumberCheck(validate: AnyValidate, schema: unknown): AnyValidate {
  const check = typeof schema === 'object' ? numberCheck(schema as SchemaNode) : undefined
  if (!check) return validate
  const run = validate as (data: unknown, context?: unknown) => boolean
  const wrapped: Wrapped = function (data: unknown, context?: unknown): boolean {
    const problem = check(data, '')
    if (problem) {
      wrapped.errors = [problem]
      return false
    }
    const ok = context === undefined ? run(data) : run(data, context)
    wrapped.errors = validate.errors
    return ok
  }
  // Fastify passes the parent object to a validator that has one, so Ajv can coerce a root value.
  return Object.assign(wrapped, { schemaEnv: validate.schemaEnv, schema: validate.schema }) as unknown as AnyValidate
}
