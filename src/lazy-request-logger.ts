import type { FastifyBaseLogger } from 'fastify'
import { levels } from 'pino'

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]
type LogArgs = Parameters<FastifyBaseLogger['info']>
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger, made into a pino child (with its request id) the first time it is used.
 * Fastify makes a child for every request, and pino runs the redaction over the child's bindings
 * when it is made: 3% of a manifest poll's CPU (npm run bench, scenario 1), spent on every request
 * although at OTA_LOG_LEVEL=warn nearly none writes a line.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildOptions
  ) {}

  private get logger(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options)
    return this.made
  }

  /**
   * Whether a line at `level` would be written: asked of the parent until the child exists, so a
   * line below the level (the request line of every request at OTA_LOG_LEVEL=warn) makes no child.
   * A child given its own level (a route's logLevel) is made at once, as it decides for itself.
   */
  private writes(level: Level): boolean {
    if (this.made !== undefined || this.options?.level !== undefined) return true
    return levels.values[level] >= (levels.values[this.parent.level] ?? Infinity)
  }

  get level(): string {
    return this.made ? this.made.level : this.parent.level
  }

  set level(level: string) {
    this.logger.level = level
  }

  fatal(...args: LogArgs): void {
    if (this.writes('fatal')) this.logger.fatal(...args)
  }

  error(...args: LogArgs): void {
    if (this.writes('error')) this.logger.error(...args)
  }

  warn(...args: LogArgs): void {
    if (this.writes('warn')) this.logger.warn(...args)
  }

  info(...args: LogArgs): void {
    if (this.writes('info')) this.logger.info(...args)
  }

  debug(...args: LogArgs): void {
    if (this.writes('debug')) this.logger.debug(...args)
  }

  trace(...args: LogArgs): void {
    if (this.writes('trace')) this.logger.trace(...args)
  }

  silent(...args: LogArgs): void {
    this.logger.silent(...args)
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options)
  }
}

/** Fastify's `childLoggerFactory`. */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options)
}
