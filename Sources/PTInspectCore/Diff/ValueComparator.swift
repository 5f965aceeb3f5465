// ValueComparator.swift: compares the contents of tensor pairs with `TensorDataReader`, chunk by
// chunk from both files at once (bounded memory), the work spread over every core.

import Dispatch

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The outcome for one pair.
package enum ValueResult: Sendable, Equatable {
  case compared(ValueStats)
  /// Not compared, with the reason (`sparse_coo layout`, `meta tensor: no data`, ...).
  case skipped(String)
}

/// The outcome for every pair, in order, and the tensor bytes read.
package struct ValueOutcome: Sendable {
  package var results: [ValueResult]
  /// Bytes of tensor data the comparison covers (both sides).
  package var bytesRead: Int64
}

/// Streams tensor pairs from both files and accumulates `DiffAccumulator` statistics.
///
/// Pairs of the same dtype are first compared byte for byte (`memcmp`, which stops at the first
/// difference); identical pairs then only need a NaN/Inf count. Pairs that differ, or whose dtypes
/// differ, are decoded to float64 on both sides in lockstep. Large tensors are split into element
/// ranges so that one big tensor also spreads over the cores.
package enum ValueComparator {
  /// Elements per decoded chunk (two buffers of 2 MiB per worker).
  static let chunkElements = 262_144

  /// The pairs to read (`work`), those that cannot be read (`skipped`, with the reason) and the
  /// state the workers share. Pairs `include` leaves out are in neither.
  struct Plan {
    var shared: Shared
    var work: [Int] = []
    var skipped: [Int: String] = [:]
    var workers: Int
  }

  static func plan(
    _ pairs: [DiffPair], _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions,
    progress: CheckpointDiff.Progress?, include: (DiffPair) -> Bool = { _ in true }
  ) throws(CheckpointError) -> Plan {
    let readerA = try TensorDataReader(a)
    let readerB = try TensorDataReader(b)
    var work: [Int] = []
    var skipped: [Int: String] = [:]
    var total: Int64 = 0
    for (i, p) in pairs.enumerated() where include(p) {
      if let reason = readerA.unreadableReason(p.before) {
        skipped[i] = "before: \(reason)"
      } else if let reason = readerB.unreadableReason(p.after) {
        skipped[i] = "after: \(reason)"
      } else if readerA.valueCount(p.before) != readerB.valueCount(p.after) {
        skipped[i] =
          "\(p.before.dtype.rawValue) against \(p.after.dtype.rawValue): values do not pair up"
      } else {
        work.append(i)
        total &+= p.before.bytes &+ p.after.bytes
      }
    }
    let shared = Shared(
      pairs: pairs, readerA: readerA, readerB: readerB, options: options, total: total,
      progress: progress)
    let workers = max(1, min(options.threads ?? ProcessInfo.processInfo.activeProcessorCount, 64))
    return Plan(shared: shared, work: work, skipped: skipped, workers: workers)
  }

  package static func compare(
    _ pairs: [DiffPair], _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions,
    progress: CheckpointDiff.Progress?
  ) throws(CheckpointError) -> ValueOutcome {
    let plan = try plan(pairs, a, b, options: options, progress: progress)
    var results = [ValueResult?](repeating: nil, count: pairs.count)
    for (i, reason) in plan.skipped { results[i] = .skipped(reason) }
    let (identical, counted) = try identicalPairs(
      plan.work, plan.shared, workers: plan.workers, countNonFinite: true)
    let partials = try decode(
      plan.work, plan.shared, identical: identical, counted: counted, workers: plan.workers)
    for i in plan.work {
      var acc = partials[i] ?? DiffAccumulator(atol: options.atol, rtol: options.rtol)
      if let (nan, inf) = counted[i] {
        acc.nanBefore = nan
        acc.infBefore = inf
      }
      results[i] = .compared(stats(pairs[i], acc, identical: identical[i] ?? false))
    }
    return ValueOutcome(
      results: results.map { $0 ?? .skipped("not compared") }, bytesRead: plan.shared.total)
  }

  /// The outcome of a byte comparison for one pair.
  enum BytesResult: Sendable, Equatable {
    case identical(Bool)
    case skipped(String)
  }

  /// Same-dtype pairs compared byte for byte only (`diff` without `--values`): streamed from
  /// both files, over every core, each pair stopping at its first difference. The same bytes
  /// with other quantization scales are other values.
  static func bytesIdentical(
    _ pairs: [DiffPair], _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions,
    progress: CheckpointDiff.Progress?
  ) throws(CheckpointError) -> (results: [BytesResult], bytesRead: Int64) {
    let plan = try plan(
      pairs, a, b, options: options, progress: progress,
      include: { $0.before.quantization == $0.after.quantization })
    var results = [BytesResult](repeating: .identical(false), count: pairs.count)
    for (i, reason) in plan.skipped { results[i] = .skipped(reason) }
    let identical = try identicalPairs(plan.work, plan.shared, workers: plan.workers).identical
    for i in plan.work { results[i] = .identical(identical[i] ?? false) }
    return (results, plan.shared.total)
  }

  /// Phase 1: same-dtype pairs byte for byte, in ranges (a big tensor spreads over the cores);
  /// a pair is identical when every range is. Ranges of a pair found different are skipped.
  /// Returns, for each same-dtype pair of `work`, whether it is identical; with
  /// `countNonFinite`, also the NaN and Inf counts of the identical pairs whose counts came
  /// from the bits as their bytes were compared (float dtypes of local files).
  static func identicalPairs(
    _ work: [Int], _ shared: Shared, workers: Int, countNonFinite: Bool = false
  ) throws(CheckpointError) -> (identical: [Int: Bool], counted: [Int: (Int64, Int64)]) {
    let pairs = shared.pairs
    var rangeJobs: [Job] = []
    for i in work where pairs[i].before.dtype == pairs[i].after.dtype {
      rangeJobs += split(i, count: pairs[i].before.numel, identical: false, options: shared.options)
    }
    rangeJobs.sort { ($0.range.count, $1.pair) > ($1.range.count, $0.pair) }
    let compareJobs = rangeJobs
    let differing = DifferingPairs()
    let compared = try shared.run(Array(compareJobs.indices), workers: workers) { j, scratch in
      let job = compareJobs[j]
      guard !differing.contains(job.pair) else { return BytesComparison.different }
      let result = try shared.compareBytes(job, scratch, countNonFinite: countNonFinite)
      if !result.equal { differing.insert(job.pair) }
      return result
    }
    var identical: [Int: Bool] = [:]
    for i in work where pairs[i].before.dtype == pairs[i].after.dtype {
      identical[i] = !differing.contains(i)
    }
    var counted: [Int: (Int64, Int64)] = [:]
    var uncounted = Set<Int>()
    for (j, job) in compareJobs.enumerated() where identical[job.pair] == true {
      guard let r = compared[j], let (nan, inf) = r.nonFinite else {
        uncounted.insert(job.pair)
        continue
      }
      let (n, f) = counted[job.pair] ?? (0, 0)
      counted[job.pair] = (n &+ nan, f &+ inf)
    }
    for i in uncounted { counted[i] = nil }
    return (identical, counted)
  }

  /// Phase 2: decode. Identical pairs need only NaN/Inf counts (none when `counted` has them);
  /// the rest full statistics. Returns the merged accumulator of each decoded pair.
  static func decode(
    _ work: [Int], _ shared: Shared, identical: [Int: Bool], counted: [Int: (Int64, Int64)] = [:],
    workers: Int
  ) throws(CheckpointError) -> [Int: DiffAccumulator] {
    let pairs = shared.pairs
    var jobs: [Job] = []
    for i in work where counted[i] == nil {
      let n = shared.readerA.valueCount(pairs[i].before)
      let same = identical[i] ?? false
      if same && !pairs[i].before.dtype.isFloatingPoint && !pairs[i].before.dtype.isComplex {
        continue
      }
      jobs += split(i, count: n, identical: same, options: shared.options)
    }
    jobs.sort { ($0.range.count, $1.pair) > ($1.range.count, $0.pair) }
    return try shared.runJobs(jobs, workers: workers)
  }

  /// The statistics of one pair from its accumulator.
  static func stats(_ pair: DiffPair, _ acc: DiffAccumulator, identical: Bool) -> ValueStats {
    guard identical else {
      let sameDType = pair.before.dtype == pair.after.dtype
      return acc.stats(bitIdentical: sameDType ? false : nil)
    }
    // The bytes match: no difference; only the NaN/Inf counts come from the decode.
    let n = pair.before.numel
    let nan = acc.nanBefore
    let inf = acc.infBefore
    let finite = n - nan - inf
    return ValueStats(
      numel: n, elementsChanged: 0, elementsDifferent: 0, maxAbsDiff: 0, maxRelDiff: nil,
      rmsDiff: 0, cosine: finite > 0 ? 1 : nil, bitIdentical: true, nanBefore: nan,
      nanAfter: nan, infBefore: inf, infAfter: inf)
  }

  /// NaN and Inf counts of `values`: a vectorised pass (x * 0 is 0 for every finite x and NaN
  /// otherwise, and never overflows), counted element by element only when it finds one.
  static func nonFinite(_ values: UnsafeBufferPointer<Double>) -> (nan: Int64, inf: Int64) {
    guard let base = values.baseAddress else { return (0, 0) }
    let raw = UnsafeRawPointer(base)
    var probe = SIMD4<Double>(repeating: 0)
    let vectors = values.count / 4
    for i in 0..<vectors {
      probe += raw.loadUnaligned(fromByteOffset: i &* 32, as: SIMD4<Double>.self) * 0
    }
    var tail = 0.0
    for i in (vectors &* 4)..<values.count { tail += values[i] * 0 }
    if (probe.sum() + tail).isFinite { return (0, 0) }
    var nan: Int64 = 0
    var inf: Int64 = 0
    for v in values where !v.isFinite {
      if v.isNaN { nan &+= 1 } else { inf &+= 1 }
    }
    return (nan, inf)
  }

  /// A pair's elements in ranges of at most `options.jobElements` (one empty range when empty).
  static func split(_ pair: Int, count n: Int64, identical: Bool, options: DiffOptions) -> [Job] {
    var jobs: [Job] = []
    var start: Int64 = 0
    repeat {
      let end = min(n, start + max(1, options.jobElements))
      jobs.append(Job(pair: pair, range: start..<end, identical: identical))
      start = end
    } while start < n
    return jobs
  }

  /// A slice of one pair's elements.
  struct Job: Sendable {
    var pair: Int
    var range: Range<Int64>
    /// The bytes are known to match: count NaN/Inf of one side only.
    var identical: Bool
  }

  /// State the workers share: inputs are immutable; results and errors are behind a lock.
  final class Shared: @unchecked Sendable {
    let pairs: [DiffPair]
    let readerA: TensorDataReader
    let readerB: TensorDataReader
    let options: DiffOptions
    let total: Int64
    let progress: CheckpointDiff.Progress?
    let lock = Lock()
    var done: Int64 = 0
    var failure: CheckpointError?

    init(
      pairs: [DiffPair], readerA: TensorDataReader, readerB: TensorDataReader, options: DiffOptions,
      total: Int64,
      progress: CheckpointDiff.Progress?
    ) {
      self.pairs = pairs
      self.readerA = readerA
      self.readerB = readerB
      self.options = options
      self.total = total
      self.progress = progress
    }

    func advance(_ bytes: Int64) {
      guard let progress else { return }
      lock.lock()
      done &+= bytes
      let now = done
      lock.unlock()
      progress(now, total)
    }

    func fail(_ error: Error) {
      // The readers throw CheckpointError, which names the file.
      let e =
        error as? CheckpointError ?? CheckpointError(file: readerA.checkpoint.path, "\(error)")
      lock.lock()
      if failure == nil { failure = e }
      lock.unlock()
    }

    var failed: Bool {
      lock.lock()
      defer { lock.unlock() }
      return failure != nil
    }

    /// Runs `body` over `items` on `workers` threads, each taking the next item and reading into
    /// its own `Scratch`; results by item.
    func run<R: Sendable>(
      _ items: [Int], workers: Int, _ body: @escaping @Sendable (Int, Scratch) throws -> R
    )
      throws(CheckpointError) -> [Int: R]
    {
      let queue = WorkQueue<R>(items)
      DispatchQueue.concurrentPerform(iterations: min(workers, max(items.count, 1))) { _ in
        let scratch = Scratch()
        while !self.failed, let item = queue.next() {
          do {
            queue.store(item, try body(item, scratch))
          } catch {
            self.fail(error)
          }
        }
      }
      if let failure { throw failure }
      return queue.results
    }

    /// Runs the decode jobs and merges their accumulators per pair.
    func runJobs(_ jobs: [Job], workers: Int) throws(CheckpointError) -> [Int: DiffAccumulator] {
      let partial = try run(Array(jobs.indices), workers: workers) { j, scratch in
        try self.decode(jobs[j], scratch)
      }
      var merged: [Int: DiffAccumulator] = [:]
      for (j, acc) in partial.sorted(by: { ($0.key) < ($1.key) }) {
        let p = jobs[j].pair
        if var m = merged[p] {
          m.merge(acc)
          merged[p] = m
        } else {
          merged[p] = acc
        }
      }
      return merged
    }

    /// Whether both tensors' stored bytes in the job's range are the same (same dtype and byte
    /// order). Contiguous tensors of local files are read into the scratch buffers, the first
    /// piece small (a changed pair differs early), and with `countNonFinite` the NaN and Inf of
    /// float dtypes are counted from the bits of equal pieces; other tensors are compared in
    /// place (the mapping, a gathered view).
    func compareBytes(_ job: Job, _ scratch: Scratch, countNonFinite: Bool) throws
      -> BytesComparison
    {
      let p = pairs[job.pair]
      guard readerA.isBigEndian == readerB.isBigEndian else { return .different }
      let bytes = Int64(job.range.count) &* Int64(p.before.dtype.itemSize) &* 2
      guard let sa = try readerA.storedSpan(p.before), let sb = try readerB.storedSpan(p.after)
      else {
        let equal = try bytesEqual(job)
        if equal { advance(bytes) }
        return equal ? BytesComparison(equal: true, nonFinite: nil) : .different
      }
      let dtype = p.before.dtype
      let counts = countNonFinite && !readerA.isBigEndian(p.before)
      var nonFinite: (Int64, Int64)? = counts ? (0, 0) : nil
      let per = Scratch.bytes / sa.itemSize
      var first = job.range.lowerBound
      var piece = min(per, 4_096)
      while first < job.range.upperBound {
        let n = Int(min(Int64(piece), job.range.upperBound - first))
        try sa.read(first, count: n, into: scratch.a)
        try sb.read(first, count: n, into: scratch.b)
        if memcmp(scratch.a, scratch.b, n &* sa.itemSize) != 0 { return .different }
        if let (nan, inf) = nonFinite {
          if let c = ValueDecoder.nonFinite(scratch.a, count: n, dtype: dtype) {
            nonFinite = (nan &+ c.nan, inf &+ c.inf)
          } else {
            nonFinite = nil
          }
        }
        first += Int64(n)
        piece = per
      }
      advance(bytes)
      return BytesComparison(equal: true, nonFinite: nonFinite)
    }

    /// `compareBytes` for tensors read in place: views, compressed entries, remote files.
    func bytesEqual(_ job: Job) throws -> Bool {
      let p = pairs[job.pair]
      let chunk: Int64 = 1 << 20
      var start = job.range.lowerBound
      var equal = true
      while start < job.range.upperBound && equal {
        let end = min(job.range.upperBound, start + chunk)
        try readerA.forEachRawChunk(p.before, range: start..<end, chunkElements: Int(chunk)) { x in
          try self.readerB.forEachRawChunk(p.after, range: start..<end, chunkElements: Int(chunk)) {
            y in
            guard x.count == y.count, let xa = x.baseAddress, let ya = y.baseAddress else {
              equal = x.count == y.count
              return
            }
            if memcmp(xa, ya, x.count) != 0 { equal = false }
          }
        }
        start = end
      }
      return equal
    }

    /// Decodes one job: both sides in lockstep, or one side for identical pairs. Contiguous
    /// float tensors of local files are read into the scratch buffers and accumulated from
    /// their stored bytes; the rest is decoded to float64 chunks.
    func decode(_ job: Job, _ scratch: Scratch) throws -> DiffAccumulator {
      let p = pairs[job.pair]
      var acc = DiffAccumulator(atol: options.atol, rtol: options.rtol)
      if !job.identical, try decodeStored(job, scratch, into: &acc) { return acc }
      let chunk = Int64(ValueComparator.chunkElements)
      var start = job.range.lowerBound
      while start < job.range.upperBound {
        let end = min(job.range.upperBound, start + chunk)
        if job.identical {
          try readerA.forEachChunk(p.before, range: start..<end, chunkElements: Int(chunk)) { x in
            let (nan, inf) = ValueComparator.nonFinite(x)
            acc.nanBefore &+= nan
            acc.infBefore &+= inf
          }
        } else {
          try readerA.forEachChunk(p.before, range: start..<end, chunkElements: Int(chunk)) { x in
            try self.readerB.forEachChunk(p.after, range: start..<end, chunkElements: Int(chunk)) {
              y in
              guard let xa = x.baseAddress, let ya = y.baseAddress else { return }
              acc.add(xa, ya, count: min(x.count, y.count))
            }
          }
          let elements = end - start
          advance(
            elements &* Int64(p.before.dtype.itemSize) &+ elements &* Int64(p.after.dtype.itemSize))
        }
        start = end
      }
      return acc
    }

    /// The job's pairs read into the scratch buffers in lockstep and accumulated from their
    /// stored bytes, when both sides are contiguous little-endian float64, float32, bfloat16 or
    /// float16 tensors of local files; false (nothing read) otherwise. Pieces are multiples of
    /// 4,096 elements, so the accumulator's blocks are those of the float64 path.
    func decodeStored(_ job: Job, _ scratch: Scratch, into acc: inout DiffAccumulator) throws
      -> Bool
    {
      let p = pairs[job.pair]
      let (da, db) = (p.before.dtype, p.after.dtype)
      guard DiffAccumulator.hasLanes(da), DiffAccumulator.hasLanes(db),
        !readerA.isBigEndian(p.before), !readerB.isBigEndian(p.after),
        let sa = try readerA.storedSpan(p.before), let sb = try readerB.storedSpan(p.after)
      else { return false }
      let per = Scratch.bytes / max(sa.itemSize, sb.itemSize)
      var first = job.range.lowerBound
      while first < job.range.upperBound {
        let n = Int(min(Int64(per), job.range.upperBound - first))
        try sa.read(first, count: n, into: scratch.a)
        try sb.read(first, count: n, into: scratch.b)
        acc.addStored(scratch.a, da, scratch.b, db, count: n)
        advance(Int64(n) &* Int64(sa.itemSize &+ sb.itemSize))
        first += Int64(n)
      }
      return true
    }
  }

  /// What phase 1 found for one range of a pair.
  struct BytesComparison: Sendable {
    var equal: Bool
    /// NaN and Inf counted from the bits of equal bytes; nil when not counted.
    var nonFinite: (nan: Int64, inf: Int64)?

    static let different = BytesComparison(equal: false, nonFinite: nil)
  }

  /// One worker's read buffers, one per file, reused for every job the worker takes.
  final class Scratch {
    /// Bytes of each buffer: 4 MiB, a multiple of 4,096 elements of every dtype.
    static let bytes = 4 << 20
    let a = UnsafeMutableRawPointer.allocate(byteCount: Scratch.bytes, alignment: 64)
    let b = UnsafeMutableRawPointer.allocate(byteCount: Scratch.bytes, alignment: 64)

    deinit {
      a.deallocate()
      b.deallocate()
    }
  }
}

/// Hands out items to worker threads and collects their results.
final class WorkQueue<R: Sendable>: @unchecked Sendable {
  // Every access to `position` and `results` holds `lock`.
  private let lock = Lock()
  private let items: [Int]
  private var position = 0
  private var stored: [Int: R] = [:]

  init(_ items: [Int]) { self.items = items }

  func next() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard position < items.count else { return nil }
    position += 1
    return items[position - 1]
  }

  func store(_ item: Int, _ result: R) {
    lock.lock()
    stored[item] = result
    lock.unlock()
  }

  var results: [Int: R] {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }
}

/// The pairs found to differ, shared by the workers of phase 1.
final class DifferingPairs: @unchecked Sendable {
  // Every access to `pairs` holds `lock`.
  private let lock = Lock()
  private var pairs = Set<Int>()

  func insert(_ pair: Int) {
    lock.lock()
    pairs.insert(pair)
    lock.unlock()
  }

  func contains(_ pair: Int) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    return pairs.contains(pair)
  }
}
