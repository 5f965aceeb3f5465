// StatsEngine.swift: statistics of many tensors over all cores. Tensors are cut into work
// units of a few MB; threads take units in file order (so reads stay nearly sequential), and
// each tensor's partial results are merged in unit order, so the output does not depend on
// the scheduling.

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

/// What the engine found for one tensor.
public enum TensorStatsOutcome: Sendable, Equatable {
  case statistics(ValueStatistics)
  /// The values cannot be read (meta tensor, raw-bits dtype, ...): the reason.
  case skipped(String)
}

/// Computes `ValueStatistics` for tensors of one checkpoint, in parallel and in bounded memory.
public struct StatsEngine: Sendable {
  /// Threads to use (all cores by default).
  public var threads = ProcessInfo.processInfo.activeProcessorCount
  /// Bytes of stored data per work unit.
  public var unitBytes: Int64 = 8 << 20
  /// Elements decoded per chunk (the Double buffer is 8 bytes per element).
  public var chunkElements = 32_768
  /// Read float32, bfloat16 and float16 tensors of local files with `pread` into one buffer per
  /// worker (`bufferBytes`) instead of through the file's mapping. Off by default: on the
  /// 346 MB ViT (2 cores, warm cache) the mapping measured 0.06 s against 0.08 s, the copy out
  /// of the page cache costing more system time than the faults it saves (`diff --values`,
  /// which reads two files, measures faster with `pread` and uses it).
  public var readsIntoBuffers = false
  /// Bytes of each worker's read buffer: 4 MiB, a multiple of 4,096 elements of every dtype.
  static let bufferBytes = 4 << 20

  /// The default engine: one worker per core, 8 MB work units.
  public init() {}

  /// The engine as the environment sets it, for benchmarks: `PTINSPECT_THREADS=N` (N at least
  /// 1) uses N threads (`PTINSPECT_THREADS=1` measures one core); `PTINSPECT_READ=pread` reads
  /// into per-worker buffers, `PTINSPECT_READ=map` through the mapping (the default).
  public init(environment: [String: String]) {
    self.init()
    if let n = environment["PTINSPECT_THREADS"].flatMap(Int.init), n > 0 { threads = n }
    if let read = environment["PTINSPECT_READ"] { readsIntoBuffers = read == "pread" }
  }

  /// A unit: elements `range` of the tensor (or sparse values component) `source`.
  struct Unit {
    var tensor: Int
    var source: TensorRecord
    var range: Range<Int64>
    var bytes: Int64
  }

  /// Statistics for each of `tensors`, in order. `progress(done, total)` is called from worker
  /// threads with stored bytes read so far. Sparse tensors get the statistics of their dense
  /// form: the stored values plus `numel - values` implicit zeros.
  package func run(
    _ reader: TensorDataReader, tensors: [TensorRecord],
    progress: (@Sendable (_ done: Int64, _ total: Int64) -> Void)? = nil
  ) throws -> [TensorStatsOutcome] {
    var outcomes = [TensorStatsOutcome?](repeating: nil, count: tensors.count)
    var implicitZeros = [Int64](repeating: 0, count: tensors.count)
    var units: [Unit] = []
    for (i, t) in tensors.enumerated() {
      var source = t
      if !t.components.isEmpty {
        // Sparse and nested tensors' elements are their `values`; a subclass's components
        // (quantized data and scales) are not its values.
        let isSparse: Bool
        switch t.layout {
        case .sparse: isSparse = true
        case .nested: isSparse = false
        default:
          outcomes[i] = .skipped(reader.unreadableReason(t) ?? "\(t.layout) layout")
          continue
        }
        guard
          let values = t.components.first(where: { $0.name.hasSuffix(".values") })
            ?? t.components.last
        else {
          outcomes[i] = .skipped("\(t.layout) tensor without values")
          continue
        }
        source = values
        if isSparse { implicitZeros[i] = max(0, t.numel - values.numel) }
      }
      if let reason = reader.unreadableReason(source) {
        outcomes[i] = .skipped(reason)
        continue
      }
      let item = Int64(source.dtype.itemSize)
      var step = max(1, unitBytes / item)
      // A compressed entry is inflated whole per call: one unit.
      // So is a tensor in chunks (reassembled per call).
      if !source.chunks.isEmpty {
        step = max(1, source.numel)
      } else if case .zipEntry = try reader.location(of: source) {
        step = max(1, source.numel)
      }
      var start: Int64 = 0
      if source.numel == 0 { units.append(Unit(tensor: i, source: source, range: 0..<0, bytes: 0)) }
      while start < source.numel {
        let end = min(source.numel, start + step)
        units.append(
          Unit(tensor: i, source: source, range: start..<end, bytes: (end - start) * item))
        start = end
      }
    }
    let results = UnitResults(count: units.count, total: units.reduce(0) { $0 + $1.bytes })
    let workers = max(1, min(threads, units.count))
    let chunk = chunkElements
    let work = units
    let bufferBytes = readsIntoBuffers ? Self.bufferBytes : 0
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      // The worker's read buffer, reused for every unit it takes.
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 64)
      defer { buffer.deallocate() }
      while let u = results.next() {
        let unit = work[u]
        var s = ValueStatistics()
        do {
          let dtype = unit.source.dtype
          let fused = try reader.forEachStoredRun(
            unit.source, range: unit.range, buffer: bufferBytes > 0 ? buffer : nil
          ) { p, n in
            s.addStored(p, count: n, dtype: dtype)
          }
          if !fused {
            try reader.forEachChunk(unit.source, range: unit.range, chunkElements: chunk) {
              s.add($0)
            }
          }
        } catch {
          results.fail(error)
          return
        }
        let done = results.finish(u, s, bytes: unit.bytes)
        progress?(done, results.total)
      }
    }
    if let error = results.error { throw error }
    var merged = [ValueStatistics?](repeating: nil, count: tensors.count)
    for (u, unit) in units.enumerated() {
      var s = merged[unit.tensor] ?? ValueStatistics()
      s.merge(results.statistics[u])
      merged[unit.tensor] = s
    }
    return tensors.indices.map { i in
      if let o = outcomes[i] { return o }
      var s = merged[i] ?? ValueStatistics()
      s.addZeros(implicitZeros[i])
      return .statistics(s)
    }
  }
}

/// Work-unit results shared by the worker threads; every access holds the lock.
private final class UnitResults: @unchecked Sendable {
  private let lock = Lock()
  private(set) var statistics: [ValueStatistics]
  private var nextUnit = 0
  private var done: Int64 = 0
  let total: Int64
  private(set) var error: Error?

  init(count: Int, total: Int64) {
    statistics = [ValueStatistics](repeating: ValueStatistics(), count: count)
    self.total = total
  }

  /// The next unit to work on, or nil when all are taken or one failed.
  func next() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard error == nil, nextUnit < statistics.count else { return nil }
    nextUnit += 1
    return nextUnit - 1
  }

  /// Stores a unit's result; returns the bytes done so far.
  func finish(_ unit: Int, _ s: ValueStatistics, bytes: Int64) -> Int64 {
    lock.lock()
    defer { lock.unlock() }
    statistics[unit] = s
    done += bytes
    return done
  }

  func fail(_ e: Error) {
    lock.lock()
    defer { lock.unlock() }
    if error == nil { error = e }
  }
}
