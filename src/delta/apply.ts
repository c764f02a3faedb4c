import {
  COMPRESSION_HEATSHRINK,
  PATCH_TYPE_SEQUENTIAL,
  heatshrinkParamsFromByte,
} from './detools-patch'
import { HeatshrinkDecoder } from './heatshrink'
import { SizeReader } from './pack-size'

// The reference applier for detools sequential bsdiff/heatshrink patches: fed the patch in pieces of any
// size, it writes the new image as it goes and keeps only the decoder's window and the current field.
// The base is read at the positions the patch names; anything that does not add up is refused.

export class PatchError extends Error {
  override name = 'PatchError'
}

/** Reads `length` bytes of the base image at `offset` (the running partition, or a buffer). */
export type BaseReader = (offset: number, length: number) => Uint8Array

type Field = 'type' | 'toSize' | 'params' | 'dataFormat' | 'diffSize' | 'diff' | 'extraSize' | 'extra' | 'adjustment' | 'done'

export class SequentialPatchApplier {
  private field: Field = 'type'
  private readonly sizes = new SizeReader()
  private decoder: HeatshrinkDecoder | undefined
  private toSize = -1
  private written = 0
  private fromOffset = 0
  private remaining = 0
  private readonly baseSize: number
  private out: number[] = []
  private baseWindow: Uint8Array = new Uint8Array(0)
  private baseWindowStart = 0

  constructor(
    private readonly readBase: BaseReader,
    baseSize: number,
    private readonly onOutput: (bytes: Buffer) => void
  ) {
    this.baseSize = baseSize
  }

  /** Size of the image being built, once the patch header is in. */
  get targetSize(): number | undefined {
    return this.toSize < 0 ? undefined : this.toSize
  }

  get done(): boolean {
    return this.field === 'done'
  }

  /** Takes the next piece of the patch. */
  write(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]
      if (this.field === 'done') throw new PatchError('data after the end of the patch')
      if (this.field === 'type' || this.field === 'toSize' || this.field === 'params') this.header(byte)
      else this.decoder?.write(chunk.subarray(i, i + 1), (b) => this.body(b))
      this.drain()
    }
  }

  /** Ends the patch: throws unless the whole image was written. */
  end(): void {
    this.drain()
    if (this.field !== 'done') {
      throw new PatchError(`patch ended early: ${this.written} of ${this.toSize < 0 ? '?' : this.toSize} bytes written`)
    }
  }

  private header(byte: number): void {
    if (this.field === 'type') {
      const patchType = (byte >> 4) & 0x7
      const compression = byte & 0xf
      if ((byte & 0x80) !== 0 || patchType !== PATCH_TYPE_SEQUENTIAL) throw new PatchError(`not a sequential patch (type ${patchType})`)
      if (compression !== COMPRESSION_HEATSHRINK) throw new PatchError(`compression ${compression} is not heatshrink`)
      this.field = 'toSize'
    } else if (this.field === 'toSize') {
      const size = this.size(byte)
      if (size === undefined) return
      if (size < 0) throw new PatchError('negative image size')
      this.toSize = size
      this.field = size === 0 ? 'done' : 'params'
    } else {
      try {
        this.decoder = new HeatshrinkDecoder(heatshrinkParamsFromByte(byte))
      } catch (error) {
        throw new PatchError(`bad heatshrink parameters: ${(error as Error).message}`)
      }
      this.field = 'dataFormat'
    }
  }

  private body(byte: number): void {
    switch (this.field) {
      case 'dataFormat': {
        const size = this.size(byte)
        if (size === undefined) return
        if (size !== 0) throw new PatchError('data-format patches are not supported')
        this.field = 'diffSize'
        return
      }
      case 'diffSize':
      case 'extraSize': {
        const size = this.size(byte)
        if (size === undefined) return
        if (size < 0 || this.written + size > this.toSize) throw new PatchError(`chunk of ${size} bytes runs past the image`)
        if (this.field === 'diffSize' && this.fromOffset + size > this.baseSize) throw new PatchError('diff reads past the base image')
        this.remaining = size
        this.field = this.field === 'diffSize' ? 'diff' : 'extra'
        if (size === 0) this.afterData()
        return
      }
      case 'diff':
        this.out.push((byte + this.baseByte(this.fromOffset)) & 0xff)
        this.fromOffset++
        this.written++
        if (--this.remaining === 0) this.afterData()
        return
      case 'extra':
        this.out.push(byte)
        this.written++
        if (--this.remaining === 0) this.afterData()
        return
      case 'adjustment': {
        const adjustment = this.size(byte)
        if (adjustment === undefined) return
        this.fromOffset += adjustment
        this.field = this.written === this.toSize ? 'done' : 'diffSize'
        return
      }
      case 'done':
        // Padding bits of the compressed stream can decode to nothing useful; real data cannot follow.
        throw new PatchError('data after the end of the image')
      default:
        throw new PatchError(`unexpected state ${this.field}`)
    }
  }

  private size(byte: number): number | undefined {
    try {
      return this.sizes.push(byte)
    } catch (error) {
      throw new PatchError((error as Error).message)
    }
  }

  private afterData(): void {
    this.field = this.field === 'diff' ? 'extraSize' : 'adjustment'
  }

  /** Reads the base a block at a time: the applier walks it forward. */
  private baseByte(offset: number): number {
    const index = offset - this.baseWindowStart
    if (index >= 0 && index < this.baseWindow.length) return this.baseWindow[index]
    if (offset < 0 || offset >= this.baseSize) throw new PatchError(`base offset ${offset} out of range`)
    this.baseWindowStart = offset
    this.baseWindow = this.readBase(offset, Math.min(4096, this.baseSize - offset))
    return this.baseWindow[0]
  }

  private drain(): void {
    if (this.out.length === 0) return
    this.onOutput(Buffer.from(this.out))
    this.out = []
  }
}

/** Applies a whole detools sequential patch to `base` (for tests and the server's check of what it made). */
export function applySequentialPatch(base: Uint8Array, patch: Uint8Array): Buffer {
  const parts: Buffer[] = []
  const applier = new SequentialPatchApplier(
    (offset, length) => base.subarray(offset, offset + length),
    base.length,
    (bytes) => parts.push(bytes)
  )
  applier.write(patch)
  applier.end()
  return Buffer.concat(parts)
}
