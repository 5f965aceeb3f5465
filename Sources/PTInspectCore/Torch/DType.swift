// DType.swift: every dtype torch can save, with its element size and the names files use.

/// A tensor element type, named as torch names it (without `torch.`).
// swift-format-ignore: AlwaysUseLowerCamelCase
/// A tensor element type, named as torch names it (`float32`, `bfloat16`, `float8_e4m3fn`, `qint8`, ...).
public enum DType: String, Sendable, Codable, CaseIterable, Comparable {
  case float64, float32, float16, bfloat16
  case float8_e5m2, float8_e4m3fn, float8_e5m2fnuz, float8_e4m3fnuz, float8_e8m0fnu
  case float4_e2m1fn_x2
  case complex32, complex64, complex128, bcomplex32
  case int8, int16, int32, int64
  case uint8, uint16, uint32, uint64
  case bool
  case qint8, quint8, qint32, quint4x2, quint2x4
  case bits8, bits16, bits1x8, bits2x4, bits4x2
  case int1, int2, int3, int4, int5, int6, int7
  case uint1, uint2, uint3, uint4, uint5, uint6, uint7

  /// Bytes per stored element (sub-byte and packed types occupy one byte per element slot).
  public var itemSize: Int {
    switch self {
    case .float64, .int64, .uint64, .complex64: 8
    case .float32, .int32, .uint32, .qint32, .complex32, .bcomplex32: 4
    case .float16, .bfloat16, .int16, .uint16, .bits16: 2
    case .complex128: 16
    case .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz, .float8_e4m3fnuz, .float8_e8m0fnu,
      .float4_e2m1fn_x2, .int8, .uint8, .bool, .qint8, .quint8, .quint4x2, .quint2x4, .bits8,
      .bits1x8, .bits2x4, .bits4x2, .int1, .int2, .int3, .int4, .int5, .int6, .int7, .uint1,
      .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
      1
    }
  }

  /// Floating point (real), which a plain state dict usually holds as parameters.
  public var isFloatingPoint: Bool {
    switch self {
    case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn,
      .float8_e5m2fnuz, .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2:
      true
    case .complex32, .complex64, .complex128, .bcomplex32, .int8, .int16, .int32, .int64, .uint8,
      .uint16, .uint32, .uint64, .bool, .qint8, .quint8, .qint32, .quint4x2, .quint2x4, .bits8,
      .bits16, .bits1x8, .bits2x4, .bits4x2, .int1, .int2, .int3, .int4, .int5, .int6, .int7,
      .uint1, .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
      false
    }
  }

  /// Whether the elements are complex numbers.
  public var isComplex: Bool {
    switch self {
    case .complex32, .complex64, .complex128, .bcomplex32: true
    case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz,
      .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2, .int8, .int16, .int32, .int64, .uint8,
      .uint16, .uint32, .uint64, .bool, .qint8, .quint8, .qint32, .quint4x2, .quint2x4, .bits8,
      .bits16, .bits1x8, .bits2x4, .bits4x2, .int1, .int2, .int3, .int4, .int5, .int6, .int7,
      .uint1, .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
      false
    }
  }

  /// Whether the elements are quantized integers with a scale and zero point.
  public var isQuantized: Bool {
    switch self {
    case .qint8, .quint8, .qint32, .quint4x2, .quint2x4: true
    case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz,
      .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2, .complex32, .complex64, .complex128,
      .bcomplex32, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool, .bits8,
      .bits16, .bits1x8, .bits2x4, .bits4x2, .int1, .int2, .int3, .int4, .int5, .int6, .int7,
      .uint1, .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
      false
    }
  }

  /// Orders dtypes by name (for stable listings).
  public static func < (a: DType, b: DType) -> Bool { a.rawValue < b.rawValue }

  /// The dtype a storage class name stands for: `FloatStorage`, `torch.cuda.HalfStorage`'s
  /// `HalfStorage`, TorchScript's `Float8_e4m3fnStorage`. Nil for `UntypedStorage` and unknowns.
  public init?(storageClass name: String) {
    guard name.hasSuffix("Storage") else { return nil }
    let base = String(name.dropLast("Storage".count))
    switch base {
    case "Double": self = .float64
    case "Float": self = .float32
    case "Half": self = .float16
    case "BFloat16": self = .bfloat16
    case "Long": self = .int64
    case "Int": self = .int32
    case "Short": self = .int16
    case "Char": self = .int8
    case "Byte": self = .uint8
    case "Bool": self = .bool
    case "ComplexDouble": self = .complex128
    case "ComplexFloat": self = .complex64
    case "ComplexHalf": self = .complex32
    case "QInt8": self = .qint8
    case "QUInt8": self = .quint8
    case "QInt32": self = .qint32
    case "QUInt4x2": self = .quint4x2
    case "QUInt2x4": self = .quint2x4
    case "UInt16": self = .uint16
    case "UInt32": self = .uint32
    case "UInt64": self = .uint64
    default:
      // TorchScript spells every ScalarType: Float8_e4m3fnStorage, Bits8Storage, ...
      guard let d = DType(rawValue: base.lowercased()) else { return nil }
      self = d
    }
  }

  /// The dtype of a `torch.<name>` global (canonical names, plus the aliases torch accepts).
  public init?(torchName name: String) {
    if let d = DType(rawValue: name) {
      self = d
      return
    }
    switch name {
    case "float": self = .float32
    case "double": self = .float64
    case "half": self = .float16
    case "long": self = .int64
    case "int": self = .int32
    case "short": self = .int16
    case "cfloat": self = .complex64
    case "cdouble": self = .complex128
    case "chalf": self = .complex32
    default: return nil
    }
  }

  /// The dtype of a safetensors header name (`F32`, `BF16`, `F8_E4M3`, ...).
  public init?(safetensors name: String) {
    switch name {
    case "F64": self = .float64
    case "F32": self = .float32
    case "F16": self = .float16
    case "BF16": self = .bfloat16
    case "F8_E5M2": self = .float8_e5m2
    case "F8_E4M3": self = .float8_e4m3fn
    case "F8_E4M3FNUZ": self = .float8_e4m3fnuz
    case "F8_E5M2FNUZ": self = .float8_e5m2fnuz
    case "F8_E8M0": self = .float8_e8m0fnu
    case "F4": self = .float4_e2m1fn_x2
    case "C64": self = .complex64
    case "I8": self = .int8
    case "I16": self = .int16
    case "I32": self = .int32
    case "I64": self = .int64
    case "U8": self = .uint8
    case "U16": self = .uint16
    case "U32": self = .uint32
    case "U64": self = .uint64
    case "BOOL": self = .bool
    default: return nil
    }
  }
}
