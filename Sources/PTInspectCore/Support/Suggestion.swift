// Suggestion.swift: "did you mean": the name among some candidates that a mistyped word is
// closest to, by edit distance.

/// The candidate `word` is a likely typo of, or nil: the closest by optimal string alignment
/// distance (insertions, deletions, substitutions and swaps of neighbours count 1), ignoring
/// case, within 1 edit for names up to 4 letters and 2 for longer ones. Ties go to the earlier
/// candidate. `word` spelled exactly as a candidate is not a typo (nil); in other capitals it is.
package func closestName(to word: String, among candidates: [String]) -> String? {
  let typed = Array(word.lowercased())
  var best: (name: String, distance: Int)?
  if candidates.contains(word) { return nil }
  for name in candidates {
    let target = Array(name.lowercased())
    let limit = target.count <= 4 ? 1 : 2
    let distance = editDistance(typed, target)
    guard distance <= limit else { continue }
    if best == nil || distance < best?.distance ?? .max { best = (name, distance) }
  }
  return best?.name
}

/// Optimal string alignment distance between two character arrays.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
  if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
  // Three rows: two back (for swaps), one back, and the current one.
  var twoBack = [Int](repeating: 0, count: b.count + 1)
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        current[j] = min(current[j], twoBack[j - 2] + 1)
      }
    }
    (twoBack, previous, current) = (previous, current, twoBack)
  }
  return previous[b.count]
}
