import type { FastifyBaseLogger } from 'fastify'

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]
type LogArgs = Parameters<FastifyBaseLogger['info']>

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

  get level(): string {
    return this.made ? this.made.level : this.parent.level
  }

  set level(level: string) {
    this.logger.level = level
  }

  fatal(...args: LogArgs): void {
    this.logger.fatal(...args)
  }

  error(...args: LogArgs): void {
    this.logger.error(...args)
  }

  warn(...args: LogArgs): void {
    this.logger.warn(...args)
  }

  info(...args: LogArgs): void {
    this.logger.info(...args)
  }

  debug(...args: LogArgs): void {
    this.logger.debug(...args)
  }

  trace(...args: LogArgs): void {
    this.logger.trace(...args)
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
