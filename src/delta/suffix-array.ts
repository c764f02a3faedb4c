// Suffix array by induced sorting (SA-IS, Nong, Zhang and Chan 2009): linear time, typed arrays only, so a
// 1.5 MB image sorts in well under a second. A suffix array is unique, so any correct construction gives
// the array detools gets from divsufsort; what bsdiff's search returns depends only on that array.

type Text = Uint8Array | Int32Array

/**
 * The suffix array of `data` in detools' layout: n + 1 entries, the empty suffix (n) first, then the
 * start of every suffix in lexicographic order.
 */
export function suffixArray(data: Uint8Array): Int32Array {
  const n = data.length
  // Shift bytes up by one so that 0 is a unique smallest sentinel standing for the empty suffix.
  const text = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) text[i] = data[i] + 1
  text[n] = 0
  const sa = new Int32Array(n + 1)
  induce(text, sa, n + 1, 257)
  return sa
}

function bucketBounds(text: Text, bounds: Int32Array, n: number, alphabet: number, ends: boolean): void {
  bounds.fill(0, 0, alphabet)
  for (let i = 0; i < n; i++) bounds[text[i]]++
  let sum = 0
  for (let c = 0; c < alphabet; c++) {
    sum += bounds[c]
    bounds[c] = ends ? sum : sum - bounds[c]
  }
}

function induceLarge(text: Text, sa: Int32Array, small: Uint8Array, bounds: Int32Array, n: number, alphabet: number): void {
  bucketBounds(text, bounds, n, alphabet, false)
  for (let i = 0; i < n; i++) {
    const j = sa[i] - 1
    if (j >= 0 && small[j] === 0) sa[bounds[text[j]]++] = j
  }
}

function induceSmall(text: Text, sa: Int32Array, small: Uint8Array, bounds: Int32Array, n: number, alphabet: number): void {
  bucketBounds(text, bounds, n, alphabet, true)
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i] - 1
    if (j >= 0 && small[j] === 1) sa[--bounds[text[j]]] = j
  }
}

/** Sorts the suffixes of text[0..n), whose last symbol is a unique smallest sentinel. */
function induce(text: Text, sa: Int32Array, n: number, alphabet: number): void {
  if (n === 1) {
    sa[0] = 0
    return
  }
  // small[i] = 1 when suffix i is S-type (smaller than suffix i + 1).
  const small = new Uint8Array(n)
  small[n - 1] = 1
  for (let i = n - 2; i >= 0; i--) {
    small[i] = text[i] < text[i + 1] || (text[i] === text[i + 1] && small[i + 1] === 1) ? 1 : 0
  }
  const isLms = (i: number): boolean => i > 0 && small[i] === 1 && small[i - 1] === 0
  const bounds = new Int32Array(alphabet)

  // Stage 1: sort the LMS substrings by inducing from their bucket ends.
  bucketBounds(text, bounds, n, alphabet, true)
  sa.fill(-1, 0, n)
  for (let i = 1; i < n; i++) if (isLms(i)) sa[--bounds[text[i]]] = i
  induceLarge(text, sa, small, bounds, n, alphabet)
  induceSmall(text, sa, small, bounds, n, alphabet)

  // Gather the sorted LMS positions at the front.
  let lmsCount = 0
  for (let i = 0; i < n; i++) if (isLms(sa[i])) sa[lmsCount++] = sa[i]

  // Name each LMS substring; equal substrings share a name.
  sa.fill(-1, lmsCount, n)
  let names = 0
  let previous = -1
  for (let i = 0; i < lmsCount; i++) {
    const position = sa[i]
    let differs = false
    for (let d = 0; d < n; d++) {
      if (
        previous === -1 ||
        text[position + d] !== text[previous + d] ||
        small[position + d] !== small[previous + d]
      ) {
        differs = true
        break
      }
      if (d > 0 && (isLms(position + d) || isLms(previous + d))) break
    }
    if (differs) {
      names++
      previous = position
    }
    sa[lmsCount + (position >> 1)] = names - 1
  }
  for (let i = n - 1, j = n - 1; i >= lmsCount; i--) if (sa[i] >= 0) sa[j--] = sa[i]

  // Stage 2: sort the reduced string, recursively when names repeat.
  const reduced = sa.subarray(n - lmsCount, n)
  const reducedSa = sa.subarray(0, lmsCount)
  if (names < lmsCount) induce(reduced, reducedSa, lmsCount, names)
  else for (let i = 0; i < lmsCount; i++) reducedSa[reduced[i]] = i

  // Stage 3: place the LMS suffixes in their sorted order and induce the rest.
  for (let i = 1, j = 0; i < n; i++) if (isLms(i)) reduced[j++] = i
  for (let i = 0; i < lmsCount; i++) reducedSa[i] = reduced[reducedSa[i]]
  sa.fill(-1, lmsCount, n)
  bucketBounds(text, bounds, n, alphabet, true)
  for (let i = lmsCount - 1; i >= 0; i--) {
    const j = sa[i]
    sa[i] = -1
    sa[--bounds[text[j]]] = j
  }
  induceLarge(text, sa, small, bounds, n, alphabet)
  induceSmall(text, sa, small, bounds, n, alphabet)
}
