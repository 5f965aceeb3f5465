// LayerInference.swift: groups a model's tensors by module prefix and infers each layer's type
// from tensor names and shapes (an ordered list of rules), or takes it from the file when the
// file names module classes. Model analysis; the layer table itself is Report/LayerRows.swift.

/// One module of the model with the tensors it owns directly.
public struct Layer: Sendable, Codable, Equatable {
  /// Module path relative to the model (`features.3`); `(root)` for tensors at the top.
  public var name: String
  /// `Conv2d`, `Linear`, `BatchNorm2d`, ... or `LayerNorm/GroupNorm` when the shapes cannot tell.
  public var type: String
  /// How PyTorch would print it, with what the file tells (`Conv2d(3, 32, kernel_size=(3, 3))`).
  public var description: String
  /// Parameter elements: weights, biases and other parameters.
  public var parameters: Int64
  /// Buffer elements: running statistics, `num_batches_tracked`, other buffers.
  public var buffers: Int64
  /// Bytes of its tensors as stored (tied tensors once).
  public var bytes: Int64
  /// Elements of its weight tensors.
  public var weights: Int64
  /// Elements of its bias tensors.
  public var biases: Int64
  /// Elements of `running_mean` and `running_var`.
  public var runningStats: Int64
  /// The tensors' names within the layer (`weight`, `bias`, ...).
  public var tensors: [String]
  /// How the parameter count follows from the shapes (`((3*3*3)+1)*32 = 896`).
  public var formula: String
  /// What was inferred rather than read (`type from shapes`, `2d from the preceding Conv2d`).
  public var inferred: [String]
  /// Tensors of this layer tied to tensors elsewhere (`weight -> emb.weight`).
  public var shared: [String]
  /// Where `type` comes from: `file` (a module class the file names) or `shapes` (inferred from
  /// tensor names and shapes).
  public var typeSource: String = "shapes"
  /// Every `torch.nn` class the shapes fit, likeliest first (`Conv2d`, `ConvTranspose2d`); one
  /// entry when the evidence decides.
  public var typeCandidates: [String] = []

  /// True when the shapes fit more than one class: the type is a guess, shown with a `?`.
  public var isGuess: Bool { typeCandidates.count > 1 }
}

extension Layer {
  /// A layer of `counts`, its type and description still to be told.
  init(name: String, counts: LayerInference.Counts, tensors: [String], shared: [String]) {
    self.init(
      name: name, type: "", description: "", parameters: counts.parameters,
      buffers: counts.buffers, bytes: counts.bytes, weights: counts.weights,
      biases: counts.biases, runningStats: counts.runningStats, tensors: tensors, formula: "",
      inferred: [], shared: shared)
  }
}

/// Infers layers from a checkpoint's model tensors.
package enum LayerInference {
  package static func layers(of c: Checkpoint) -> [Layer] {
    let groups = ModuleGroups(c)
    let modules = groups.modules
    var layers: [Layer] = []
    layers.reserveCapacity(modules.count)
    var weights: [[Int64]?] = []
    weights.reserveCapacity(modules.count)
    var inferred = InferenceCache()
    // One array and one key serve every module.
    var members: [ModuleMember] = []
    var key = InferenceKey()
    let weight = groups.component("weight")
    for module in modules {
      groups.members(of: module, into: &members)
      weights.append(members.first { $0.leaf == weight }.map { c.tensors[$0.tensor].shape })
      layers.append(
        layer(module, members: members, groups: groups, c, cache: &inferred, key: &key))
    }
    decideConvolutions(&layers, weights: weights)
    refineFromNeighbours(&layers, weights: weights)
    return layers
  }

  static func moduleKey(_ c: Checkpoint, _ prefix: String) -> String {
    let base = c.modelPrefix.hasSuffix(".") ? String(c.modelPrefix.dropLast()) : c.modelPrefix
    let stripped =
      c.strippedPrefix.hasSuffix(".") ? String(c.strippedPrefix.dropLast()) : c.strippedPrefix
    return [base, stripped, prefix].filter { !$0.isEmpty }.joined(separator: ".")
  }

  /// What the shape rules make of a layer depends only on its own name, its tensors' names and
  /// shapes, and its parameter count: repeated blocks (64 experts, 24 transformer layers) ask the
  /// same question many times, and it is answered once. The key is those facts as numbers (names
  /// as `ModuleGroups` component ids, exact bytes), filled in place for each layer, and their
  /// hash.
  struct InferenceKey: Equatable {
    /// The module's last path component, the number of tensors, each tensor's name, rank and
    /// dimensions, then the parameter count.
    private(set) var numbers: [Int64] = []
    private(set) var hash = 0

    /// The key of a module with `members` and `parameters`. The name is taken as written, not
    /// lowercased as the rules see it: `FC` and `fc` are two keys with one answer.
    mutating func set(
      lastComponent: Int, members: [ModuleMember], tensors: [TensorRecord], parameters: Int64
    ) {
      numbers.removeAll(keepingCapacity: true)
      numbers.append(Int64(lastComponent))
      numbers.append(Int64(members.count))
      for m in members {
        numbers.append(Int64(m.leaf))
        let shape = tensors[m.tensor].shape
        numbers.append(Int64(shape.count))
        numbers.append(contentsOf: shape)
      }
      numbers.append(parameters)
      var h = ByteHasher()
      numbers.withUnsafeBytes { h.combine($0) }
      hash = h.finalize()
    }
  }

  /// The answers so far, by key.
  struct InferenceCache {
    private var ids = IDTable()
    private var keys: [InferenceKey] = []
    private var answers: [Inference] = []

    subscript(key: InferenceKey) -> Inference? {
      ids.find(key.hash, matches: { keys[$0] == key }).map { answers[$0] }
    }

    /// Adds the answer for a key not in the cache.
    mutating func add(_ answer: Inference, for key: InferenceKey) {
      _ = ids.insert(key.hash)
      keys.append(key)
      answers.append(answer)
    }
  }

  /// The rules' answer: the tensors' names, type, description, formula, what was inferred and
  /// the candidates.
  struct Inference {
    var tensors: [String]
    var type: String
    var description: String
    var formula: String
    var inferred: [String]
    var typeCandidates: [String]
  }

  /// What a layer's tensors add up to (tied tensors counted where they first appear).
  struct Counts {
    var parameters: Int64 = 0
    var buffers: Int64 = 0
    var bytes: Int64 = 0
    var weights: Int64 = 0
    var biases: Int64 = 0
    var runningStats: Int64 = 0
  }

  /// The layer of `module` with `members`; `key` is where its key is made.
  static func layer(
    _ module: Int, members: [ModuleMember], groups: ModuleGroups, _ c: Checkpoint,
    cache: inout InferenceCache, key: inout InferenceKey
  ) -> Layer {
    let prefix = groups.prefixes[module]
    let name = prefix.isEmpty ? "(root)" : prefix
    let tensors = c.tensors
    var counts = Counts()
    var shared: [String] = []
    var moduleClass: String?
    for (k, m) in members.enumerated() {
      // One copy of the record: each computed property read from the array would copy it.
      let t = tensors[m.tensor]
      if k == 0 { moduleClass = t.moduleClass }
      if let s = t.sharedWith {
        shared.append("\(groups.leaf(m)) -> \(s)")
        continue
      }
      let n = t.numel
      counts.bytes &+= t.bytes
      let role = t.role
      if t.kind == .parameter {
        counts.parameters &+= n
        if role == .weight { counts.weights &+= n }
        if role == .bias { counts.biases &+= n }
      } else {
        counts.buffers &+= n
        if role == .runningMean || role == .runningVar { counts.runningStats &+= n }
      }
    }
    // A state dict names no modules: no module path to build and look up.
    if moduleClass == nil && !c.modules.isEmpty {
      moduleClass =
        c.modules[c.modelPrefix.isEmpty ? prefix : String(c.modelPrefix.dropLast()) + "." + prefix]?
        .className
    }
    guard let cls = moduleClass else {
      key.set(
        lastComponent: groups.lastComponent(of: module), members: members, tensors: tensors,
        parameters: counts.parameters)
      let answer: Inference
      if let known = cache[key] {
        answer = known
      } else {
        var probe = Layer(
          name: name, counts: counts, tensors: members.map(groups.leaf), shared: shared)
        let shapes = shapes(members, groups, tensors)
        infer(&probe, shapes: shapes, name: lastComponent(prefix).lowercased())
        if probe.typeCandidates.isEmpty { probe.typeCandidates = [probe.type] }
        if probe.formula.isEmpty {
          probe.formula = genericFormula(shapes: shapes, order: probe.tensors)
        }
        answer = Inference(
          tensors: probe.tensors, type: probe.type, description: probe.description,
          formula: probe.formula, inferred: probe.inferred, typeCandidates: probe.typeCandidates)
        cache.add(answer, for: key)
      }
      return Layer(
        name: name, type: answer.type, description: answer.description,
        parameters: counts.parameters, buffers: counts.buffers, bytes: counts.bytes,
        weights: counts.weights, biases: counts.biases, runningStats: counts.runningStats,
        tensors: answer.tensors, formula: answer.formula, inferred: answer.inferred,
        shared: shared, typeCandidates: answer.typeCandidates)
    }
    var l = Layer(name: name, counts: counts, tensors: members.map(groups.leaf), shared: shared)
    // The file names the class; the shapes still give the formula when they agree with it.
    let shapes = shapes(members, groups, tensors)
    var probe = l
    infer(&probe, shapes: shapes, name: lastComponent(prefix).lowercased())
    l.type = shortClassName(cls)
    l.typeSource = "file"
    l.typeCandidates = [l.type]
    let info = c.modules.isEmpty ? nil : c.modules[moduleKey(c, prefix)]
    l.description = describe(type: l.type, shapes: shapes, info: info) ?? probe.description
    // The shape formula holds when the class agrees with what the shapes suggest.
    if probe.type.hasPrefix(String(l.type.prefix(4))) { l.formula = probe.formula }
    if l.formula.isEmpty { l.formula = genericFormula(shapes: shapes, order: l.tensors) }
    return l
  }

  /// The layer's tensor shapes by leaf name (the first tensor of a name, should one repeat).
  static func shapes(
    _ members: [ModuleMember], _ groups: ModuleGroups, _ tensors: [TensorRecord]
  ) -> [String: [Int64]] {
    var shapes: [String: [Int64]] = [:]
    shapes.reserveCapacity(members.count)
    for m in members {
      let leaf = groups.leaf(m)
      if shapes[leaf] == nil { shapes[leaf] = tensors[m.tensor].shape }
    }
    return shapes
  }

  /// `torch.nn.modules.conv.Conv2d` and `__torch__....___torch_mangle_9.Conv2d` are `Conv2d`.
  static func shortClassName(_ cls: String) -> String {
    lastComponent(cls)
  }

  static func tuple(_ values: ArraySlice<Int64>) -> String {
    values.count == 1
      ? "(\(values.first ?? 0),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
  }

  // MARK: inference from shapes

  static let embeddingHints = [
    "emb", "embed", "embedding", "embeddings", "wte", "wpe", "tok_embeddings", "word_embeddings",
    "position_embeddings", "token_type_embeddings", "shared", "lookup", "embed_tokens",
    "embed_positions",
  ]

  /// Name fragments that mark a transposed convolution, which shapes alone cannot tell apart.
  static let transposedHints = [
    "deconv", "upconv", "convtranspose", "transposed", "conv_transpose", "upsample",
  ]

  /// What a shape rule looks at: the layer's tensor shapes by leaf name, and the layer's own
  /// name (its last path component, lowercased).
  struct Evidence {
    var shapes: [String: [Int64]]
    var name: String
    // Looked up once: every rule asks.
    let weight: [Int64]?
    let hasBias: Bool
    /// The weight's rank, or nil without a weight.
    var rank: Int? { weight?.count }
    /// The channel count of a 1-D weight.
    var channels: Int64 { weight?.first ?? 0 }

    init(shapes: [String: [Int64]], name: String) {
      self.shapes = shapes
      self.name = name
      weight = shapes["weight"]
      hasBias = shapes["bias"] != nil
    }
    func nameContains(_ fragments: String...) -> Bool { fragments.contains(where: name.contains) }
  }

  /// One inference rule: when `matches` holds, `describe` fills in the layer's type,
  /// description, formula and what it had to guess.
  struct Rule: Sendable {
    var matches: @Sendable (Evidence) -> Bool
    var describe: @Sendable (inout Layer, Evidence) -> Void
  }

  /// The shape rules, tried in this order; the first that matches describes the layer. A new
  /// rule is one entry: put it before any broader rule that would also match.
  static let rules: [Rule] = [
    // LSTM, GRU, RNN: per-layer weight_ih_l0 / weight_hh_l0.
    Rule(matches: { $0.shapes["weight_ih_l0"] != nil }) { l, e in recurrent(&l, shapes: e.shapes) },
    Rule(
      matches: { $0.shapes["in_proj_weight"] ?? $0.shapes["q_proj_weight"] != nil },
      describe: multiheadAttention),
    Rule(
      matches: { $0.shapes["running_mean"] != nil || $0.shapes["running_var"] != nil },
      describe: batchNorm),
    Rule(matches: { $0.weight == nil }, describe: listing),
    Rule(
      matches: {
        (3...5).contains($0.rank ?? 0) && transposedHints.contains(where: $0.name.contains)
      },
      describe: { l, e in convolution(&l, e, transposed: true) }),
    Rule(
      matches: { (3...5).contains($0.rank ?? 0) },
      describe: { l, e in convolution(&l, e, transposed: false) }),
    Rule(
      matches: { e in
        e.rank == 2 && !e.hasBias
          && embeddingHints.contains { hint in
            e.name.hasPrefix(hint)
              || (e.name.hasSuffix(hint) && e.name.dropLast(hint.count).last == "_")
          }
      },
      describe: embedding),
    Rule(matches: { $0.rank == 2 }, describe: linear),
    // A 1-D weight with a bias: a norm with an affine transform; the name tells which.
    Rule(
      matches: { $0.rank == 1 && $0.hasBias && $0.nameContains("gn", "group") },
      describe: { l, e in
        affineNorm(&l, e, type: "GroupNorm", description: "GroupNorm(?, \(e.channels))")
        l.inferred.append("num_groups is not stored in the file")
      }),
    Rule(
      matches: { e in
        e.rank == 1 && e.hasBias
          && (e.name.hasPrefix("in") && !e.name.hasPrefix("input") || e.nameContains("instance"))
      },
      describe: { l, e in
        affineNorm(
          &l, e, type: "InstanceNorm", description: "InstanceNorm(\(e.channels), affine=True)")
      }),
    Rule(
      matches: {
        $0.rank == 1 && $0.hasBias && $0.nameContains("ln", "layernorm", "layer_norm", "norm")
      },
      describe: { l, e in
        affineNorm(&l, e, type: "LayerNorm", description: "LayerNorm((\(e.channels),))")
      }),
    Rule(
      matches: { $0.rank == 1 && $0.hasBias },
      describe: { l, e in
        let c = e.channels
        affineNorm(
          &l, e, type: "LayerNorm or GroupNorm",
          description: "LayerNorm((\(c),)) or GroupNorm(?, \(c))")
        l.typeCandidates = ["LayerNorm", "GroupNorm", "InstanceNorm"]
        l.inferred.append("a 1-D weight and bias fit LayerNorm, GroupNorm and InstanceNorm alike")
      }),
    // A 1-D weight without a bias.
    Rule(
      matches: { $0.rank == 1 && !$0.hasBias && $0.nameContains("prelu", "act") },
      describe: { l, e in
        perChannel(&l, e, type: "PReLU", description: "PReLU(num_parameters=\(e.channels))")
      }),
    Rule(
      matches: { $0.rank == 1 && !$0.hasBias && $0.nameContains("rms") },
      describe: { l, e in
        perChannel(&l, e, type: "RMSNorm", description: "RMSNorm((\(e.channels),))")
      }),
    Rule(
      matches: { $0.rank == 1 && !$0.hasBias && $0.nameContains("norm", "ln") },
      describe: { l, e in
        let c = e.channels
        perChannel(
          &l, e, type: "RMSNorm or LayerNorm",
          description: "RMSNorm((\(c),)) or LayerNorm((\(c),), bias=False)")
        l.typeCandidates = ["RMSNorm", "LayerNorm"]
        l.inferred.append("a 1-D weight without bias fits RMSNorm and LayerNorm(bias=False) alike")
      }),
    Rule(
      matches: { $0.rank == 1 && !$0.hasBias },
      describe: { l, e in
        let c = e.channels
        perChannel(
          &l, e, type: "RMSNorm, LayerNorm or PReLU",
          description: "RMSNorm((\(c),)), LayerNorm((\(c),), bias=False) or PReLU(\(c))")
        l.typeCandidates = ["RMSNorm", "LayerNorm", "PReLU"]
        l.inferred.append("a 1-D weight without bias fits RMSNorm, LayerNorm(bias=False) and PReLU")
      }),
  ]

  /// Fills in the layer from the first rule that matches; a layer no rule matches is a
  /// `Module` listing its tensors.
  static func infer(_ l: inout Layer, shapes: [String: [Int64]], name: String) {
    let evidence = Evidence(shapes: shapes, name: name)
    guard let rule = rules.first(where: { $0.matches(evidence) }) else {
      return listing(&l, evidence)
    }
    rule.describe(&l, evidence)
  }

  // MARK: the rules' descriptions

  /// No rule fits: a `Module` listing each tensor with its shape.
  static func listing(_ l: inout Layer, _ e: Evidence) {
    l.type = "Module"
    l.description = l.tensors.map { "\($0) \(Format.shape(e.shapes[$0] ?? []))" }.joined(
      separator: ", ")
  }

  static func multiheadAttention(_ l: inout Layer, _ e: Evidence) {
    let inProj = e.shapes["in_proj_weight"] ?? e.shapes["q_proj_weight"] ?? []
    let d = inProj.last ?? 0
    l.type = "MultiheadAttention"
    l.description = "MultiheadAttention(embed_dim=\(d))"
    l.formula = "4*\(d)*\(d) + 4*\(d) (in_proj 3E*E + 3E, out_proj E*E + E) = \(l.parameters)"
    l.inferred.append("num_heads is not stored in the file")
  }

  static func batchNorm(_ l: inout Layer, _ e: Evidence) {
    let c = (e.shapes["running_mean"] ?? e.shapes["running_var"] ?? []).first ?? 0
    l.type = "BatchNorm"
    l.description = "BatchNorm(\(c)" + (e.weight == nil ? ", affine=False" : "") + ")"
    l.formula = e.weight == nil ? "no learnable parameters" : "2*C = 2*\(c) = \(2 * c)"
    l.typeCandidates = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
  }

  /// A convolution, or a transposed one: torch stores the weight as [out, in/groups, k...] for
  /// `Conv` and as [in, out/groups, k...] for `ConvTranspose`.
  static func convolution(_ l: inout Layer, _ e: Evidence, transposed: Bool) {
    let w = e.weight ?? []
    let k = w[2...].map(String.init).joined(separator: "*")
    let (inChannels, outChannels) = transposed ? (w[0], w[1]) : (w[1], w[0])
    let dims = "\(w.count - 2)d"
    l.type = (transposed ? "ConvTranspose" : "Conv") + dims
    // in_channels/groups = 1: depthwise (groups = in_channels) or a 1-channel input.
    let depthwise = !transposed && w[1] == 1 && w[0] > 1
    l.description =
      "\(l.type)(\(depthwise ? "?" : String(inChannels)), \(outChannels), kernel_size=\(tuple(w[2...]))"
      + (depthwise ? ", groups=?" : "") + (e.hasBias ? "" : ", bias=False") + ")"
    if !transposed { l.typeCandidates = ["Conv" + dims, "ConvTranspose" + dims] }
    if transposed {
      l.inferred.append("transposed because of the name '\(e.name)' (shapes alone cannot tell)")
      l.formula =
        "(\(k)*\(w[0]))*\(w[1])" + (e.hasBias ? " + \(w[1])" : "") + " = \(l.parameters)"
      return
    }
    l.formula =
      (e.hasBias ? "((\(k)*\(w[1]))+1)*\(w[0])" : "(\(k)*\(w[1]))*\(w[0])") + " = \(l.parameters)"
    if w[1] == 1 && w[0] > 1 {
      l.inferred.append(
        "in_channels/groups = 1: a depthwise conv (in_channels = groups, likely \(w[0])) or a 1-channel input; the shape cannot tell"
      )
    }
  }

  static func embedding(_ l: inout Layer, _ e: Evidence) {
    let w = e.weight ?? []
    l.type = "Embedding"
    l.description = "Embedding(\(w[0]), \(w[1]))"
    l.formula = "\(w[0])*\(w[1]) = \(l.parameters)"
    l.inferred.append("Embedding rather than Linear(bias=False) because of the name '\(e.name)'")
  }

  static func linear(_ l: inout Layer, _ e: Evidence) {
    let w = e.weight ?? []
    l.type = "Linear"
    l.description =
      "Linear(in_features=\(w[1]), out_features=\(w[0]), bias=\(e.hasBias ? "True" : "False"))"
    l.formula =
      (e.hasBias ? "(\(w[1])*\(w[0]))+\(w[0])" : "\(w[1])*\(w[0])") + " = \(l.parameters)"
  }

  /// A norm with a weight and a bias per channel.
  static func affineNorm(_ l: inout Layer, _ e: Evidence, type: String, description: String) {
    l.type = type
    l.description = description
    l.formula = "2*C = 2*\(e.channels) = \(2 * e.channels)"
  }

  /// One learnable value per channel (PReLU, RMSNorm, LayerNorm without bias).
  static func perChannel(_ l: inout Layer, _ e: Evidence, type: String, description: String) {
    l.type = type
    l.description = description
    l.formula = "C = \(e.channels)"
  }
  static func recurrent(_ l: inout Layer, shapes: [String: [Int64]]) {
    let ih = shapes["weight_ih_l0"] ?? []
    let hh = shapes["weight_hh_l0"] ?? []
    let hidden = hh.count == 2 ? hh[1] : 0
    let gates = hidden > 0 && ih.count == 2 ? ih[0] / hidden : 0
    l.type = gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN"
    let layers = (0..<1000).prefix { shapes["weight_ih_l\($0)"] != nil }.count
    let bidirectional = shapes["weight_ih_l0_reverse"] != nil
    var args = ["\(ih.count == 2 ? ih[1] : 0)", "\(hidden)"]
    if layers > 1 { args.append("num_layers=\(layers)") }
    if shapes["bias_ih_l0"] == nil { args.append("bias=False") }
    if bidirectional { args.append("bidirectional=True") }
    if let hr = shapes["weight_hr_l0"], hr.count == 2 { args.append("proj_size=\(hr[0])") }
    l.description = "\(l.type)(" + args.joined(separator: ", ") + ")"
    l.formula =
      "per layer and direction: \(gates)*H*(input+H) + \(shapes["bias_ih_l0"] != nil ? "2*\(gates)*H" : "0") with H=\(hidden); total \(l.parameters)"
  }

  /// BatchNorm's dimensionality follows from the Conv or Linear layers around it in the module
  /// tree, never from the order of tensors in the file (safetensors sorts them): the siblings in
  /// its own module first, then each enclosing module up to the root. At each level the layers
  /// whose channels match the BatchNorm's decide; the first level where they agree wins.
  static func refineFromNeighbours(_ layers: inout [Layer], weights: [[Int64]?]) {
    guard layers.contains(where: { $0.type == "BatchNorm" }) else { return }
    // The Conv/Linear layers under each module (every prefix of their names; "" for the whole
    // model), with their dimensionality: built once, so each level's question costs only the
    // layers under it. Answers are kept per (module, channels, number): a model of thousands of
    // BatchNorms asks few distinct questions.
    var under: [String: [(d: String, index: Int)]] = [:]
    for j in layers.indices {
      let t = layers[j].type
      let d: String
      if t == "Linear" {
        d = "1d"
      } else if t.hasPrefix("Conv"), let digit = t.first(where: \.isNumber) {
        d = "\(digit)d"
      } else {
        continue
      }
      under["", default: []].append((d, j))
      var prefix = Substring(layers[j].name)
      while let dot = lastDot(prefix) {
        prefix = prefix[..<dot]
        under[String(prefix), default: []].append((d, j))
      }
    }
    struct Question: Hashable {
      var scope: String
      var channels: Int64?
      var number: Int?
    }
    var answers: [Question: (String, Int)?] = [:]
    var renamed = BatchNormDescriptions()
    for i in layers.indices where layers[i].type == "BatchNorm" {
      let name = layers[i].name
      let leaf = lastComponent(name).lowercased()
      if let d = ["1d", "2d", "3d"].first(where: { contains(leaf, $0) }) {
        setBatchNorm(&layers[i], d, because: "\(d) from the name '\(leaf)'", &renamed)
        continue
      }
      let channels = channelCount(of: layers[i], weight: weights[i])
      let number = trailingNumber(name)
      var scope = parentPath(name)
      while true {
        let q = Question(scope: scope ?? "", channels: channels, number: number)
        let answer: (String, Int)?
        if let known = answers[q] {
          answer = known
        } else {
          answer = dimensionality(
            among: under[q.scope] ?? [], of: layers, weights: weights, channels: channels,
            number: q.number)
          answers[q] = answer
        }
        if let (d, witness) = answer {
          let place = scope.map { "'\($0)'" } ?? "the model"
          setBatchNorm(
            &layers[i], d,
            because: "\(d) from the \(layers[witness].type) '\(layers[witness].name)' in \(place)",
            &renamed)
          break
        }
        guard let s = scope else {
          layers[i].inferred.append("1d, 2d or 3d cannot be told: no Conv or Linear around it")
          break
        }
        scope = parentPath(s)
      }
    }
  }

  /// Conv and ConvTranspose store their weights the same way, [out, in] and [in, out]; the
  /// channel flow between siblings tells them apart. Siblings are taken in model order: by their
  /// number (`0`, `1`, ... of a Sequential, norms included; `conv1`, `conv2` of a block). A conv
  /// whose channels fit its neighbour read as a Conv
  /// but not as a ConvTranspose is a Conv; when the flow decides some convolutions of the model
  /// and all of them are Convs, the undecided (square) ones are taken as Convs too.
  static func decideConvolutions(_ layers: inout [Layer], weights: [[Int64]?]) {
    func isConv(_ i: Int) -> Bool {
      layers[i].typeCandidates.count == 2 && layers[i].type.hasPrefix("Conv")
        && (weights[i]?.count ?? 0) >= 3
    }
    func channels(_ i: Int) -> Int64? {
      layers[i].type.hasPrefix("BatchNorm") || layers[i].typeCandidates.contains("GroupNorm")
        ? weights[i]?.first ?? channelCount(of: layers[i], weight: nil) : nil
    }
    var siblings: [String: [(number: Int, norm: Bool, index: Int)]] = [:]
    for i in layers.indices where isConv(i) || channels(i) != nil {
      guard let n = trailingNumber(layers[i].name) else { continue }
      siblings[parentPath(layers[i].name) ?? "", default: []].append((n, !isConv(i), i))
    }
    var decided = Set<Int>()
    var transposed = Set<Int>()
    for (parent, group) in siblings {
      var ordered = group.sorted { ($0.number, $0.norm ? 1 : 0) < ($1.number, $1.norm ? 1 : 0) }
      // In a Sequential (`0`, `1`, ...) the numbers give the order of every layer; named
      // siblings (`conv1`, `bn1`) say nothing of a norm's place (before or after its conv), so
      // only their convolutions are paired.
      let sequential = ordered.allSatisfy {
        let leaf = lastComponent(layers[$0.index].name)
        return parentPath(layers[$0.index].name) ?? "" == parent && Int(leaf) != nil
      }
      if !sequential { ordered.removeAll { $0.norm } }
      for (a, b) in zip(ordered, ordered.dropFirst()) {
        let (i, j) = (a.index, b.index)
        // What flows from a into b under each reading.
        var asConv: Bool
        var asTransposed: Bool
        switch (isConv(i), isConv(j)) {
        case (true, true):
          guard let wi = weights[i], let wj = weights[j] else { continue }
          (asConv, asTransposed) = (wi[0] == wj[1], wi[1] == wj[0])
        case (true, false):
          guard let wi = weights[i], let c = channels(j) else { continue }
          (asConv, asTransposed) = (wi[0] == c, wi[1] == c)
        case (false, true):
          guard let wj = weights[j], let c = channels(i) else { continue }
          (asConv, asTransposed) = (wj[1] == c, wj[0] == c)
        case (false, false):
          continue
        }
        if asConv && !asTransposed {
          for k in [i, j] where isConv(k) { decided.insert(k) }
        } else if asTransposed && !asConv {
          for k in [i, j] where isConv(k) { transposed.insert(k) }
        }
      }
    }
    for i in transposed.subtracting(decided) {
      guard let w = weights[i] else { continue }
      var shapes = ["weight": w]
      if layers[i].tensors.contains("bias") { shapes["bias"] = [w[1]] }
      let e = Evidence(shapes: shapes, name: lastComponent(layers[i].name).lowercased())
      var l = layers[i]
      l.inferred.removeAll()
      convolution(&l, e, transposed: true)
      l.typeCandidates = [l.type]
      l.inferred = [
        "ConvTranspose, not Conv: its channels flow into or from its neighbours as a ConvTranspose's"
      ]
      layers[i] = l
    }
    guard !decided.isEmpty, transposed.isEmpty,
      !layers.contains(where: { $0.type.hasPrefix("ConvTranspose") })
    else {
      for i in decided {
        layers[i].typeCandidates = [layers[i].type]
        layers[i].inferred.append(
          "Conv, not ConvTranspose: its channels flow into or from its neighbours as a Conv's")
      }
      return
    }
    for i in layers.indices where isConv(i) {
      layers[i].typeCandidates = [layers[i].type]
      layers[i].inferred.append(
        decided.contains(i)
          ? "Conv, not ConvTranspose: its channels flow into or from its neighbours as a Conv's"
          : "Conv like the \(decided.count) convolution(s) whose channel flow shows they are Conv, not ConvTranspose"
      )
    }
  }

  /// BatchNorm descriptions with their dimensionality, by description and dimensionality: a
  /// model of thousands of BatchNorms has few distinct ones.
  typealias BatchNormDescriptions = [[String]: String]

  static func setBatchNorm(
    _ l: inout Layer, _ d: String, because: String, _ renamed: inout BatchNormDescriptions
  ) {
    l.type = "BatchNorm" + d
    l.typeCandidates = [l.type]
    let key = [l.description, d]
    if let known = renamed[key] {
      l.description = known
    } else {
      l.description = l.description.replacingOccurrences(of: "BatchNorm(", with: "BatchNorm\(d)(")
      renamed[key] = l.description
    }
    l.inferred.append(because)
  }

  /// The module holding a layer (`layer1.0` of `layer1.0.bn1`); nil at the top (the root is
  /// then the scope).
  static func parentPath(_ name: String) -> String? {
    guard let dot = lastDot(Substring(name)) else { return nil }
    return String(name[..<dot])
  }

  /// The last `.` of `name` as a Character (a `.` a combining mark follows is not one), found
  /// among the bytes when the name is ASCII: Characters are bytes then, and walking them is slow.
  static func lastDot(_ name: Substring) -> String.Index? {
    name.utf8.allSatisfy { $0 < 0x80 }
      ? name.utf8.lastIndex(of: UInt8(ascii: ".")) : name.lastIndex(of: ".")
  }

  /// `text.contains(fragment)` for an ASCII `fragment`, compared as bytes when `text` is ASCII
  /// too (its Characters are then its bytes, but for `\r\n`, which no ASCII fragment of
  /// letters and digits matches).
  static func contains(_ text: String, _ fragment: String) -> Bool {
    guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return text.contains(fragment) }
    let t = Array(text.utf8)
    let f = Array(fragment.utf8)
    guard f.count <= t.count else { return f.isEmpty }
    return (0...(t.count - f.count)).contains { t[$0..<($0 + f.count)].elementsEqual(f) }
  }

  static func channelCount(of l: Layer, weight: [Int64]?) -> Int64? {
    if let c = weight?.first { return c }
    // BatchNorm(affine=False): its description names the channels.
    return Int64(l.description.drop { !$0.isNumber }.prefix { $0.isNumber })
  }

  /// The dimensionality the Conv/Linear layers of one module (`all`) agree on, with one of them as
  /// the witness: those whose in or out channels match `channels` when any do, else all of them;
  /// nil when there are none or they disagree.
  static func dimensionality(
    among all: [(d: String, index: Int)], of layers: [Layer], weights: [[Int64]?],
    channels: Int64?, number: Int?
  ) -> (String, Int)? {
    let matching = all.filter { item in
      guard let c = channels, let w = weights[item.index], w.count >= 2 else { return false }
      return w[0] == c || w[1] == c
    }
    var candidates = (matching.isEmpty ? all : matching).map { ($0.d, $0.index) }
    if let first = candidates.first, candidates.allSatisfy({ $0.0 == first.0 }) { return first }
    // They disagree: the layer whose name carries the same number (`conv1` for `bn1`) decides.
    candidates = candidates.filter { number != nil && trailingNumber(layers[$0.1].name) == number }
    guard let first = candidates.first, candidates.allSatisfy({ $0.0 == first.0 }) else {
      return nil
    }
    return first
  }

  static func trailingNumber(_ name: String) -> Int? {
    let leaf = lastComponent(name)
    guard leaf.utf8.allSatisfy({ $0 < 0x80 }) else {
      return splitTrailingNumber(Substring(leaf), maxDigits: 9).number
    }
    return splitTrailingNumber(ascii: Array(leaf.utf8)[...], maxDigits: 9).number
  }

  // MARK: from module classes (whole models, TorchScript)

  static func describe(type: String, shapes: [String: [Int64]], info: ModuleInfo?) -> String? {
    let attrs = Dictionary(
      info?.attributes.map { ($0.name, $0.value) } ?? [], uniquingKeysWith: { a, _ in a })
    let w = shapes["weight"] ?? []
    let hasBias = shapes["bias"] != nil
    if type.hasPrefix("Conv"), let inC = attrs["in_channels"], let outC = attrs["out_channels"],
      let k = attrs["kernel_size"]
    {
      var s = "\(type)(\(inC), \(outC), kernel_size=\(k)"
      if let st = attrs["stride"] { s += ", stride=\(st)" }
      if let p = attrs["padding"], p.contains(where: { $0.isNumber && $0 != "0" }) {
        s += ", padding=\(p)"
      }
      if let d = attrs["dilation"], d.contains(where: { $0.isNumber && $0 != "1" }) {
        s += ", dilation=\(d)"
      }
      if let g = attrs["groups"], g != "1" { s += ", groups=\(g)" }
      if !hasBias { s += ", bias=False" }
      return s + ")"
    }
    if type.hasPrefix("Conv"), w.count >= 3 {
      return "\(type)(\(w[1]), \(w[0]), kernel_size=\(tuple(w[2...]))"
        + (hasBias ? "" : ", bias=False") + ")"
    }
    if type == "Linear" || type.hasSuffix("Linear"), w.count == 2 {
      return
        "\(type)(in_features=\(w[1]), out_features=\(w[0]), bias=\(hasBias ? "True" : "False"))"
    }
    if type.hasPrefix("BatchNorm") || type.hasPrefix("InstanceNorm") {
      let c = attrs["num_features"] ?? (shapes["running_mean"] ?? w).first.map(String.init) ?? "?"
      var s = "\(type)(\(c)"
      if let eps = attrs["eps"] { s += ", eps=\(eps)" }
      if let m = attrs["momentum"] { s += ", momentum=\(m)" }
      if let a = attrs["affine"] { s += ", affine=\(a)" }
      if let t = attrs["track_running_stats"] { s += ", track_running_stats=\(t)" }
      return s + ")"
    }
    if type == "Embedding", w.count == 2 { return "Embedding(\(w[0]), \(w[1]))" }
    if type == "LayerNorm", let shape = attrs["normalized_shape"] { return "LayerNorm(\(shape))" }
    if type == "GroupNorm", let g = attrs["num_groups"], let c = attrs["num_channels"] {
      return "GroupNorm(\(g), \(c))"
    }
    var l = Layer(
      name: "", type: "", description: "", parameters: 0, buffers: 0, bytes: 0, weights: 0,
      biases: 0,
      runningStats: 0, tensors: [], formula: "", inferred: [], shared: [])
    if type == "LSTM" || type == "GRU" || type == "RNN" {
      recurrent(&l, shapes: shapes)
      return l.description.replacingOccurrences(of: l.type + "(", with: type + "(")
    }
    return nil
  }

  static func genericFormula(shapes: [String: [Int64]], order: [String]) -> String {
    order.compactMap { leaf in
      shapes[leaf].map {
        "\(leaf) " + ($0.isEmpty ? "1" : $0.map(String.init).joined(separator: "*"))
      }
    }
    .joined(separator: " + ")
  }
}

// Written by hand for speed: the same JSON as the Codable conformance (ReportJSONTests checks it).
extension Layer: JSONRawWritable {
  func writeJSON(to out: inout JSONWriter) throws {
    var w = JSONObjectWriter(&out)
    w.int("biases", biases, &out)
    w.int("buffers", buffers, &out)
    w.int("bytes", bytes, &out)
    w.string("description", description, &out)
    w.string("formula", formula, &out)
    w.strings("inferred", inferred, &out)
    w.string("name", name, &out)
    w.int("parameters", parameters, &out)
    w.int("runningStats", runningStats, &out)
    w.strings("shared", shared, &out)
    w.strings("tensors", tensors, &out)
    w.string("type", type, &out)
    w.strings("typeCandidates", typeCandidates, &out)
    w.string("typeSource", typeSource, &out)
    w.int("weights", weights, &out)
    w.end(&out)
  }
}
