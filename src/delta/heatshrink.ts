// heatshrink (LZSS with a 2^window byte window and matches up to 2^lookahead bytes), the encoder's choices
// made exactly as atomicobject's C encoder makes them, so the same input gives the same bits: input is
// taken a window at a time into a buffer behind a window of history (zeros at first), a position is
// searched only while a full lookahead of input follows it (or the input is finishing), the nearest of
// the longest matches wins, and a match must beat a literal's cost to be used.

const LITERAL_MARKER = 1
const BACKREF_MARKER = 0

export interface HeatshrinkParams {
  windowBits: number
  lookaheadBits: number
}

function checkParams({ windowBits, lookaheadBits }: HeatshrinkParams): void {
  if (!(windowBits >= 4 && windowBits <= 15 && lookaheadBits >= 3 && lookaheadBits < windowBits)) {
    throw new RangeError(`heatshrink window ${windowBits} / lookahead ${lookaheadBits} out of range`)
  }
}

class BitWriter {
  private current = 0
  private mask = 0x80
  private readonly out: number[] = []

  /** Appends the low `count` bits of `bits`, most significant first. */
  push(count: number, bits: number): void {
    for (let i = count - 1; i >= 0; i--) {
      if ((bits >> i) & 1) this.current |= this.mask
      this.mask >>= 1
      if (this.mask === 0) {
        this.out.push(this.current)
        this.current = 0
        this.mask = 0x80
      }
    }
  }

  /** The whole bytes written so far; they are handed out once. */
  take(): Buffer {
    const bytes = Buffer.from(this.out)
    this.out.length = 0
    return bytes
  }

  /** Pads the last partial byte with zero bits. */
  flush(): void {
    if (this.mask !== 0x80) {
      this.out.push(this.current)
      this.current = 0
      this.mask = 0x80
    }
  }
}

export class HeatshrinkEncoder {
  private readonly window: number
  private readonly lookahead: number
  private readonly windowBits: number
  private readonly lookaheadBits: number
  /** [history window | input window]; history starts as zeros, as the decoder's does. */
  private readonly buffer: Uint8Array
  private inputSize = 0
  private scanIndex = 0
  private finished = false
  private readonly bits = new BitWriter()
  /** A match must be longer than this many bytes to cost less than literals. */
  private readonly breakEven: number

  constructor(params: HeatshrinkParams) {
    checkParams(params)
    this.windowBits = params.windowBits
    this.lookaheadBits = params.lookaheadBits
    this.window = 1 << params.windowBits
    this.lookahead = 1 << params.lookaheadBits
    this.buffer = new Uint8Array(2 * this.window)
    this.breakEven = Math.floor((1 + params.windowBits + params.lookaheadBits) / 8)
  }

  /** Feeds input; returns the compressed bytes that are complete so far. */
  write(data: Uint8Array): Buffer {
    if (this.finished) throw new Error('heatshrink encoder already finished')
    let offset = 0
    while (offset < data.length) {
      const room = this.window - this.inputSize
      const take = Math.min(room, data.length - offset)
      this.buffer.set(data.subarray(offset, offset + take), this.window + this.inputSize)
      this.inputSize += take
      offset += take
      if (this.inputSize === this.window) this.encode(false)
    }
    return this.bits.take()
  }

  /** Encodes what is left and returns the last bytes. */
  finish(): Buffer {
    if (!this.finished) {
      this.finished = true
      this.encode(true)
      this.bits.flush()
    }
    return this.bits.take()
  }

  private encode(finishing: boolean): void {
    const buffer = this.buffer
    for (;;) {
      const scan = this.scanIndex
      if (scan > this.inputSize - (finishing ? 1 : this.lookahead)) break
      const end = this.window + scan
      const start = end - this.window
      const maxLength = Math.min(this.lookahead, this.inputSize - scan)
      let bestLength = 0
      let bestPosition = -1
      for (let position = end - 1; position >= start; position--) {
        if (buffer[position + bestLength] !== buffer[end + bestLength] || buffer[position] !== buffer[end]) continue
        let length = 1
        while (length < maxLength && buffer[position + length] === buffer[end + length]) length++
        if (length > bestLength) {
          bestLength = length
          bestPosition = position
          if (length === maxLength) break
        }
      }
      if (bestLength > this.breakEven) {
        this.bits.push(1, BACKREF_MARKER)
        this.bits.push(this.windowBits, end - bestPosition - 1)
        this.bits.push(this.lookaheadBits, bestLength - 1)
        this.scanIndex += bestLength
      } else {
        this.bits.push(1, LITERAL_MARKER)
        this.bits.push(8, buffer[end])
        this.scanIndex += 1
      }
    }
    if (finishing) return
    // Keep the last window of processed bytes as history and move the unprocessed rest behind it.
    const unprocessed = this.window - this.scanIndex
    buffer.copyWithin(0, this.scanIndex, this.scanIndex + this.window + unprocessed)
    this.inputSize = unprocessed
    this.scanIndex = 0
  }
}

/** Streaming decoder: any split of the input gives the same output. */
export class HeatshrinkDecoder {
  private readonly windowBits: number
  private readonly lookaheadBits: number
  private readonly mask: number
  private readonly history: Uint8Array
  private head = 0
  private accumulator = 0
  private accumulatedBits = 0

  constructor(params: HeatshrinkParams) {
    checkParams(params)
    // The bit accumulator holds one token plus a byte in a 31-bit integer.
    if (params.windowBits + params.lookaheadBits > 22) throw new RangeError('heatshrink decoder supports window + lookahead up to 22 bits')
    this.windowBits = params.windowBits
    this.lookaheadBits = params.lookaheadBits
    this.history = new Uint8Array(1 << params.windowBits)
    this.mask = (1 << params.windowBits) - 1
  }

  /**
   * Decodes `data`, handing each output byte to `emit`. A token cut by the end of `data` waits for the
   * next call; bits left over at the very end are the encoder's padding.
   */
  write(data: Uint8Array, emit: (byte: number) => void): void {
    const tokenBits = 1 + this.windowBits + this.lookaheadBits
    for (const byte of data) {
      this.accumulator = (this.accumulator << 8) | byte
      this.accumulatedBits += 8
      // A literal needs 9 bits, a back-reference 1 + window + lookahead: decode while one is complete.
      for (;;) {
        if (this.accumulatedBits < 1) break
        const tag = (this.accumulator >> (this.accumulatedBits - 1)) & 1
        if (tag === LITERAL_MARKER) {
          if (this.accumulatedBits < 9) break
          const value = (this.accumulator >> (this.accumulatedBits - 9)) & 0xff
          this.accumulatedBits -= 9
          this.put(value, emit)
        } else {
          if (this.accumulatedBits < tokenBits) break
          const token = (this.accumulator >> (this.accumulatedBits - tokenBits)) & ((1 << tokenBits) - 1)
          this.accumulatedBits -= tokenBits
          const distance = ((token >> this.lookaheadBits) & this.mask) + 1
          const count = (token & ((1 << this.lookaheadBits) - 1)) + 1
          for (let i = 0; i < count; i++) this.put(this.history[(this.head - distance) & this.mask], emit)
        }
      }
      this.accumulator &= (1 << this.accumulatedBits) - 1
    }
  }

  private put(byte: number, emit: (byte: number) => void): void {
    this.history[this.head] = byte
    this.head = (this.head + 1) & this.mask
    emit(byte)
  }
}
