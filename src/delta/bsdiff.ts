import { suffixArray } from './suffix-array'

// Colin Percival's bsdiff match selection as detools runs it: walk the new image, find the longest match
// for each position in the old one by binary search over its suffix array, and cut the new image into
// (diff, extra, adjustment) triples wherever the current alignment stops paying. The rules below (the
// score of 8, the forward/backward extension, the overlap split, which of two equal candidates the
// search keeps) decide the exact bytes of a patch, so they follow detools to the letter.

/** One bsdiff step: `diff` is added byte-wise to the old image, `extra` is copied, then the old position moves by `adjustment`. */
export interface BsdiffChunk {
  diff: Uint8Array
  extra: Uint8Array
  adjustment: number
}

/**
 * For each position, how many bytes from there on equal it (capped). Comparisons step over such runs
 * whole: firmware images carry long stretches of 0x00 or 0xFF padding, and comparing suffixes inside one
 * byte by byte makes bsdiff's search quadratic. The answers are the same; only the work differs.
 */
function runLengths(data: Uint8Array): Int32Array {
  const runs = new Int32Array(data.length)
  for (let i = data.length - 1; i >= 0; i--) {
    runs[i] = i + 1 < data.length && data[i + 1] === data[i] ? Math.min(runs[i + 1] + 1, 0x7fffffff) : 1
  }
  return runs
}

interface Side {
  bytes: Uint8Array
  runs: Int32Array
}

/** Length of the common prefix of from[fromStart..] and to[toStart..]. */
function commonPrefix(from: Side, fromStart: number, to: Side, toStart: number): number {
  const limit = Math.min(from.bytes.length - fromStart, to.bytes.length - toStart)
  const a = from.bytes
  const b = to.bytes
  let i = 0
  while (i < limit && a[fromStart + i] === b[toStart + i]) {
    i += Math.min(from.runs[fromStart + i], to.runs[toStart + i])
  }
  return Math.min(i, limit)
}

/** True when from[fromStart..] sorts before to[toStart..] over their common length (memcmp < 0). */
function sortsBefore(from: Side, fromStart: number, to: Side, toStart: number): boolean {
  const limit = Math.min(from.bytes.length - fromStart, to.bytes.length - toStart)
  const i = commonPrefix(from, fromStart, to, toStart)
  return i < limit && from.bytes[fromStart + i] < to.bytes[toStart + i]
}

interface Match {
  length: number
  position: number
}

/** The longest match for to[toStart..] in `from`, narrowed by halving [low, high] of the suffix array. */
function search(sa: Int32Array, from: Side, to: Side, toStart: number, match: Match): void {
  let low = 0
  let high = from.bytes.length
  while (high - low >= 2) {
    const middle = low + ((high - low) >> 1)
    if (sortsBefore(from, sa[middle], to, toStart)) low = middle
    else high = middle
  }
  const lowLength = commonPrefix(from, sa[low], to, toStart)
  const highLength = commonPrefix(from, sa[high], to, toStart)
  // On a tie the later suffix-array entry wins, as in detools.
  if (lowLength > highLength) {
    match.length = lowLength
    match.position = sa[low]
  } else {
    match.length = highLength
    match.position = sa[high]
  }
}

/** The bsdiff chunks that turn `from` into `to`, in order. */
export function* bsdiffChunks(from: Uint8Array, to: Uint8Array, sa: Int32Array = suffixArray(from)): Generator<BsdiffChunk> {
  const fromSize = from.length
  const toSize = to.length
  const match: Match = { length: 0, position: 0 }
  const fromSide: Side = { bytes: from, runs: runLengths(from) }
  const toSide: Side = { bytes: to, runs: runLengths(to) }
  let scan = 0
  let length = 0
  let position = 0
  let lastScan = 0
  let lastPosition = 0
  let lastOffset = 0

  while (scan < toSize) {
    let oldScore = 0
    scan += length
    let scoreScan = scan
    for (; scan < toSize; scan++) {
      search(sa, fromSide, toSide, scan, match)
      length = match.length
      position = match.position
      // How many bytes of the matched stretch the current alignment already gets right.
      for (; scoreScan < scan + length; scoreScan++) {
        if (scoreScan + lastOffset < fromSize && from[scoreScan + lastOffset] === to[scoreScan]) oldScore++
      }
      if ((length === oldScore && length !== 0) || length > oldScore + 8) break
      if (scan + lastOffset < fromSize && from[scan + lastOffset] === to[scan]) oldScore--
    }
    if (length === oldScore && scan !== toSize) continue

    // Extend the previous match forward while it matches at least half the bytes.
    let score = 0
    let bestForward = 0
    let forward = 0
    for (let i = 0; lastScan + i < scan && lastPosition + i < fromSize; ) {
      if (from[lastPosition + i] === to[lastScan + i]) score++
      i++
      if (score * 2 - i > bestForward * 2 - forward) {
        bestForward = score
        forward = i
      }
    }
    // Extend the new match backward the same way.
    let backward = 0
    if (scan < toSize) {
      score = 0
      let bestBackward = 0
      for (let i = 1; scan >= lastScan + i && position >= i; i++) {
        if (from[position - i] === to[scan - i]) score++
        if (score * 2 - i > bestBackward * 2 - backward) {
          bestBackward = score
          backward = i
        }
      }
    }
    // Where the two extensions overlap, split at the point that keeps the most matching bytes.
    const overlap = lastScan + forward - (scan - backward)
    if (overlap > 0) {
      score = 0
      let bestSplit = 0
      let split = 0
      for (let i = 0; i < overlap; i++) {
        if (to[lastScan + forward - overlap + i] === from[lastPosition + forward - overlap + i]) score++
        if (to[scan - backward + i] === from[position - backward + i]) score--
        if (score > bestSplit) {
          bestSplit = score
          split = i + 1
        }
      }
      forward += split - overlap
      backward -= split
    }

    const diff = new Uint8Array(forward)
    for (let i = 0; i < forward; i++) diff[i] = (to[lastScan + i] - from[lastPosition + i]) & 0xff
    const extraStart = lastScan + forward
    const extra = to.slice(extraStart, scan - backward)
    yield { diff, extra, adjustment: position - backward - (lastPosition + forward) }

    lastScan = scan - backward
    lastPosition = position - backward
    lastOffset = position - scan
  }
}
