// ModuleGroups.swift: the model's tensors grouped by module (`features.3` holds
// `features.3.weight` and `features.3.bias`), worked out over the names' UTF-8 bytes: one String
// per module, none per tensor (names within a module are ids, made Strings when asked).
// LayerInference turns each module into a Layer.

/// A tensor of a module: its index into `Checkpoint.tensors`, and its name within the module
/// (`weight`; `out_proj.weight` once folded into its parent) as a `ModuleGroups` component id.
struct ModuleMember {
  var tensor: Int
  var leaf: Int
}

/// The modules of a checkpoint's model tensors in order of first appearance, each with its
/// tensors in the order the file holds them.
struct ModuleGroups {
  /// Each module's path (`features.3`, "" for tensors at the top), by module number.
  private(set) var prefixes: [String] = []
  /// Module numbers by path. Asked only when a tensor's module is not the previous tensor's: a
  /// module's tensors usually come in a run.
  private var numbers = NameIDs()
  /// Ids of the names within modules (`weight`) and of the modules' last path components
  /// (`conv1`), by their exact bytes: what the layer rules look at, compared as numbers.
  private var components = ByteIDs()
  /// Each module's last path component, as a component id.
  private var lastComponents: [Int] = []
  /// Each module's members, as a list linked through `next` (-1 ends it): folding a child's
  /// members into its parent is then a link, wherever they sit in the file.
  private var members: [ModuleMember] = []
  private var next: [Int] = []
  private var head: [Int] = []
  private var tail: [Int] = []
  /// Modules folded into another: left out of `modules`.
  private var folded: [Bool] = []
  /// Modules whose last path component is `out_proj`, and that component's id.
  private var outProjections: [Int] = []
  private var outProj = 0

  /// Groups the model tensors of `c` by module; MultiheadAttention's `out_proj` is folded into
  /// its parent.
  init(_ c: Checkpoint) {
    let tensors = c.tensors
    // What layer names usually start after (see `Checkpoint.layerNameStart`): a name that
    // starts with both prefixes skips both; any other is asked.
    let skip = Array((c.modelPrefix + c.strippedPrefix).utf8)
    members.reserveCapacity(tensors.count)
    next.reserveCapacity(tensors.count)
    let outProjName: StaticString = "out_proj"
    outProj = outProjName.withUTF8Buffer { components.id(of: $0).id }
    var current = -1
    for i in tensors.indices where tensors[i].section == .model {
      var name = tensors[i].name
      let member = name.withUTF8 { bytes -> (module: Int, leaf: Int) in
        let start =
          bytes.starts(with: skip)
          ? skip.count
          : tensors[i].name.utf8.distance(
            from: tensors[i].name.utf8.startIndex, to: c.layerNameStart(tensors[i].name))
        let dot = bytes[start...].lastIndex(of: UInt8(ascii: "."))
        let path = bytes.slice(start..<(dot ?? start))
        let module = current >= 0 && numbers.isName(current, path) ? current : self.module(path)
        return (
          module, components.id(of: bytes.slice((dot.map { $0 + 1 } ?? start)..<bytes.count)).id
        )
      }
      current = member.module
      append(ModuleMember(tensor: i, leaf: member.leaf), to: member.module)
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

  /// A module's last path component, as a component id.
  func lastComponent(of module: Int) -> Int { lastComponents[module] }

  /// The component id of `name`, or nil when no module or tensor has it.
  func component(_ name: StaticString) -> Int? {
    name.withUTF8Buffer { components.find($0) }
  }

  /// The member's name within its module (`weight`).
  func leaf(_ m: ModuleMember) -> String { components.string(m.leaf) }

  /// The number of the module at `path`, added when new.
  private mutating func module(_ path: UnsafeBufferPointer<UInt8>) -> Int {
    let (n, isNew) = numbers.id(of: path)
    guard isNew else { return n }
    let prefix = String(decoding: path, as: UTF8.self)
    prefixes.append(prefix)
    let dot = path.lastIndex(of: UInt8(ascii: "."))
    lastComponents.append(components.id(of: path.slice((dot.map { $0 + 1 } ?? 0)..<path.count)).id)
    head.append(-1)
    tail.append(-1)
    folded.append(false)
    // Compared as component ids first: `hasSuffix` walks Characters.
    if lastComponents[n] == outProj && (prefix == "out_proj" || prefix.hasSuffix(".out_proj")) {
      outProjections.append(n)
    }
    return n
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
      guard let parent = numbers.id(of: parentPath), !folded[parent] else { continue }
      let projections = [component("in_proj_weight"), component("q_proj_weight")]
      var parentMembers: [ModuleMember] = []
      members(of: parent, into: &parentMembers)
      guard parentMembers.contains(where: { projections.contains($0.leaf) }) else { continue }
      var m = head[child]
      while m >= 0 {
        var leaf = "out_proj." + components.string(members[m].leaf)
        let id = leaf.withUTF8 { components.id(of: $0).id }
        members[m].leaf = id
        m = next[m]
      }
      next[tail[parent]] = head[child]
      tail[parent] = tail[child]
      folded[child] = true
    }
  }
}

/// `splitTrailingNumber` of an ASCII name component, read from its bytes (its Characters): the
/// stem's length and the number its trailing digits make (nil without digits or with more than
/// `maxDigits`).
func splitTrailingNumber(ascii text: ArraySlice<UInt8>, maxDigits: Int) -> (
  stemBytes: Int, number: Int?
) {
  let digits = text.reversed().prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
  let number =
    digits > 0 && digits <= maxDigits
    ? text.suffix(digits).reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } : nil
  return (text.count - digits, number)
}
