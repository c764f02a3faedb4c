// detools' variable-length integer: the first byte carries a continuation bit (0x80), a sign bit (0x40)
// and six value bits; each further byte a continuation bit and seven value bits, least significant first.

const FIRST_VALUE_BITS = 6
const MORE_VALUE_BITS = 7
const CONTINUE = 0x80
const NEGATIVE = 0x40

/** The bytes detools writes for `value` (a safe integer). */
export function packSize(value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`size ${value} is not a safe integer`)
  if (value === 0) return Buffer.from([0])
  const bytes: number[] = []
  let rest = Math.abs(value)
  bytes.push(CONTINUE | (value < 0 ? NEGATIVE : 0) | (rest % 64))
  rest = Math.floor(rest / 64)
  while (rest > 0) {
    bytes.push(CONTINUE | (rest % 128))
    rest = Math.floor(rest / 128)
  }
  bytes[bytes.length - 1] &= ~CONTINUE & 0xff
  return Buffer.from(bytes)
}

/** Decodes packSize's bytes one at a time, so a stream can be fed in any pieces. */
export class SizeReader {
  private value = 0
  private scale = 1
  private negative = false
  private started = false

  /** Takes one byte; returns the value once its last byte is in, else undefined. */
  push(byte: number): number | undefined {
    if (!this.started) {
      this.started = true
      this.negative = (byte & NEGATIVE) !== 0
      this.value = byte & ((1 << FIRST_VALUE_BITS) - 1)
      this.scale = 1 << FIRST_VALUE_BITS
    } else {
      this.value += (byte & ((1 << MORE_VALUE_BITS) - 1)) * this.scale
      this.scale *= 1 << MORE_VALUE_BITS
      if (this.scale > 2 ** 53) throw new RangeError('size field longer than any patch can need')
    }
    if ((byte & CONTINUE) !== 0) return undefined
    const value = this.negative ? -this.value : this.value
    this.started = false
    return value
  }
}
