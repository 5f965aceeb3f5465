// ModuleGroups.swift: the model's tensors grouped by module (`features.3` holds
// `features.3.weight` and `features.3.bias`), worked out over the names' UTF-8 bytes: one String
// per module, none per tensor. LayerInference turns each module into a Layer.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A tensor of a module: its index into `Checkpoint.tensors`, and where its name within the
/// module (`weight`; `out_proj.weight` once folded into its parent) starts in the tensor's full
/// name, in UTF-8 bytes; it runs to the name's end.
struct ModuleMember {
  var tensor: Int
  var leafStart: Int
}

/// The modules of a checkpoint's model tensors in order of first appearance, each with its
/// tensors in the order the file holds them.
struct ModuleGroups {
  /// Each module's path (`features.3`, "" for tensors at the top), by module number.
  private(set) var prefixes: [String] = []
  /// The same paths as UTF-8, one after another: module n's is
  /// `pathBytes[pathStart[n]..<pathStart[n + 1]]`.
  private var pathBytes: [UInt8] = []
  private var pathStart = [0]
  /// Module numbers by the hash of their path. Asked only when a tensor's module is not the
  /// previous tensor's: a module's tensors usually come in a run.
  private var numbers = IDTable()
  /// Module numbers by path as a String, once a path is not ASCII: Strings that differ in bytes
  /// can be equal (`é` composed or not), and such paths name one module, as they always have.
  private var byString: [String: Int]?
  /// Each module's members, as a list linked through `next` (-1 ends it): folding a child's
  /// members into its parent is then a link, wherever they sit in the file.
  private var members: [ModuleMember] = []
  private var next: [Int] = []
  private var head: [Int] = []
  private var tail: [Int] = []
  /// Modules folded into another: left out of `modules`.
  private var folded: [Bool] = []
  /// Modules whose last path component is `out_proj`.
  private var outProjections: [Int] = []

  /// Groups the model tensors of `c` by module; MultiheadAttention's `out_proj` is folded into
  /// its parent.
  init(_ c: Checkpoint) {
    let tensors = c.tensors
    // What layer names usually start after (see `Checkpoint.layerNameStart`): a name that
    // starts with both prefixes skips both; any other is asked.
    let skip = Array((c.modelPrefix + c.strippedPrefix).utf8)
    members.reserveCapacity(tensors.count)
    next.reserveCapacity(tensors.count)
    var current = -1
    for i in tensors.indices where tensors[i].section == .model {
      var name = tensors[i].name
      let (leafStart, module) = name.withUTF8 { bytes -> (Int, Int) in
        let start =
          bytes.starts(with: skip)
          ? skip.count
          : tensors[i].name.utf8.distance(
            from: tensors[i].name.utf8.startIndex, to: c.layerNameStart(tensors[i].name))
        let dot = bytes[start...].lastIndex(of: UInt8(ascii: "."))
        let path = UnsafeBufferPointer(rebasing: bytes[start..<(dot ?? start)])
        let module = current >= 0 && hasPath(current, path) ? current : self.module(path)
        return (dot.map { $0 + 1 } ?? start, module)
      }
      current = module
      append(ModuleMember(tensor: i, leafStart: leafStart), to: module)
    }
    foldOutProjections(tensors)
  }

  /// The numbers of the modules that hold tensors, in order of first appearance.
  var modules: [Int] { prefixes.indices.filter { !folded[$0] } }

  /// A module's members, in order, into `out` (emptied first: one array serves every module).
  func members(of module: Int, into out: inout [ModuleMember]) {
    out.removeAll(keepingCapacity: true)
    var m = head[module]
    while m >= 0 {
      out.append(members[m])
      m = next[m]
    }
  }

  /// Whether the member's name within its module is `leaf`, compared as bytes.
  static func leafIs(_ m: ModuleMember, _ leaf: StaticString, _ tensors: [TensorRecord]) -> Bool {
    var name = tensors[m.tensor].name
    return name.withUTF8 { bytes in
      leaf.withUTF8Buffer { bytes[m.leafStart...].elementsEqual($0) }
    }
  }

  /// The member's name within its module (`weight`).
  static func leaf(_ m: ModuleMember, _ tensors: [TensorRecord]) -> String {
    var name = tensors[m.tensor].name
    return name.withUTF8 {
      String(decoding: UnsafeBufferPointer(rebasing: $0[m.leafStart...]), as: UTF8.self)
    }
  }

  /// The number of the module at `path`, added when new.
  private mutating func module(_ path: UnsafeBufferPointer<UInt8>) -> Int {
    var hash = FNV1a()
    hash.combine(path)
    if let known = numbers.find(hash.value, matches: { hasPath($0, path) }) { return known }
    let prefix = String(decoding: path, as: UTF8.self)
    if byString == nil && path.contains(where: { $0 >= 0x80 }) {
      byString = Dictionary(uniqueKeysWithValues: zip(prefixes, prefixes.indices))
    }
    if let known = byString?[prefix] { return known }
    let n = numbers.insert(hash.value)
    byString?[prefix] = n
    pathBytes.append(contentsOf: path)
    pathStart.append(pathBytes.count)
    prefixes.append(prefix)
    head.append(-1)
    tail.append(-1)
    folded.append(false)
    // Compared as bytes first: `hasSuffix` walks Characters.
    if path.count >= 8 && path.suffix(8).elementsEqual("out_proj".utf8)
      && (prefix == "out_proj" || prefix.hasSuffix(".out_proj"))
    {
      outProjections.append(n)
    }
    return n
  }

  /// The number of the module at `path`, or nil.
  private func module(at path: String) -> Int? {
    if let byString { return byString[path] }
    var path = path
    return path.withUTF8 { bytes in
      var hash = FNV1a()
      hash.combine(bytes)
      return numbers.find(hash.value, matches: { hasPath($0, bytes) })
    }
  }

  /// Whether module `n`'s path is exactly the bytes `path`.
  private func hasPath(_ n: Int, _ path: UnsafeBufferPointer<UInt8>) -> Bool {
    let start = pathStart[n]
    let count = pathStart[n + 1] - start
    guard count == path.count else { return false }
    return pathBytes.withUnsafeBufferPointer { bytes in
      guard count > 0, let mine = bytes.baseAddress, let theirs = path.baseAddress else {
        return true
      }
      return memcmp(mine + start, theirs, count) == 0
    }
  }

  private mutating func append(_ member: ModuleMember, to module: Int) {
    let m = members.count
    members.append(member)
    next.append(-1)
    if tail[module] >= 0 { next[tail[module]] = m } else { head[module] = m }
    tail[module] = m
  }

  /// MultiheadAttention keeps out_proj as a child module: it is folded into its parent (its
  /// tensors then named `out_proj.weight`, ...) when the parent has the attention's input
  /// projection.
  private mutating func foldOutProjections(_ tensors: [TensorRecord]) {
    for child in outProjections {
      let prefix = prefixes[child]
      let parentPath = prefix == "out_proj" ? "" : String(prefix.dropLast(".out_proj".count))
      guard let parent = module(at: parentPath), !folded[parent] else { continue }
      var parentMembers: [ModuleMember] = []
      members(of: parent, into: &parentMembers)
      guard
        parentMembers.contains(where: {
          Self.leafIs($0, "in_proj_weight", tensors) || Self.leafIs($0, "q_proj_weight", tensors)
        })
      else { continue }
      var m = head[child]
      while m >= 0 {
        members[m].leafStart -= "out_proj.".utf8.count
        m = next[m]
      }
      next[tail[parent]] = head[child]
      tail[parent] = tail[child]
      folded[child] = true
    }
  }
}
