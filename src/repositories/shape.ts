/**
 * The public members of a repository class: the interface every backend implements. The SQLite
 * classes are the reference; a PostgreSQL class `implements Shape<ThatClass>`.
 */
export type Shape<T> = { [K in keyof T]: T[K] }
