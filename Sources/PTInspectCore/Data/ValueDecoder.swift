// ValueDecoder.swift: exact decoders from stored element bytes to Double for every dtype torch
// saves with numeric values: IEEE floats, bfloat16, the float8 family, float4 pairs, integers,
// bool, complex (as the absolute value) and quantized integers (dequantized as torch does).

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

/// Turns stored elements of one dtype into `Double` values.
struct ValueDecoder: Sendable {
  enum Dequantization: Sendable {
    case none
    /// `float(scale) * float(q - zeroPoint)`, torch's per-tensor `dequantize_val`.
    case perTensor(scale: Float, zeroPoint: Int64)
    /// Per channel, applied after decoding the integers (it needs the element's channel).
    case perChannel
  }

  let dtype: DType
  /// True when the bytes are big-endian (this host is little-endian).
  let swap: Bool
  let dequantization: Dequantization

  /// Doubles one element yields: 2 for `float4_e2m1fn_x2` (low nibble first), else 1.
  static func valuesPerElement(_ dtype: DType) -> Int { dtype == .float4_e2m1fn_x2 ? 2 : 1 }

  /// Why values of `dtype` cannot be decoded, or nil when they can.
  static func unsupportedReason(_ dtype: DType) -> String? {
    switch dtype {
    case .bits8, .bits16, .bits1x8, .bits2x4, .bits4x2:
      return "dtype \(dtype.rawValue) holds raw bits, not numbers"
    case .quint4x2, .quint2x4:
      return "packed quantized dtype \(dtype.rawValue) is not decoded"
    case .int1, .int2, .int3, .int4, .int5, .int6, .int7, .uint1, .uint2, .uint3, .uint4, .uint5,
      .uint6, .uint7:
      return "sub-byte dtype \(dtype.rawValue) is not decoded"
    case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz,
      .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2, .complex32, .complex64, .complex128,
      .bcomplex32, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool, .qint8,
      .quint8, .qint32:
      return nil
    }
  }

  /// Decodes `count` elements, the first at `src` and each `strideBytes` after the previous
  /// one, into `out` (`count * valuesPerElement` doubles). Quantized dtypes come out
  /// dequantized per tensor, or as raw integers when `dequantization` is `.perChannel`.
  func decode(
    _ src: UnsafeRawPointer, strideBytes: Int, count: Int, into out: UnsafeMutablePointer<Double>
  ) {
    let s = strideBytes
    switch dtype {
    case .float64:
      run(UInt64.self, src, s, count, out) { Double(bitPattern: $0) }
    case .float32:
      run(UInt32.self, src, s, count, out) { Double(Float(bitPattern: $0)) }
    case .float16:
      halfTable.withUnsafeBufferPointer { t in
        run(UInt16.self, src, s, count, out) { Double(t[Int($0)]) }
      }
    case .bfloat16:
      run(UInt16.self, src, s, count, out) { Double(Float(bitPattern: UInt32($0) << 16)) }
    case .float8_e5m2: table(Float8Tables.e5m2, src, s, count, out)
    case .float8_e4m3fn: table(Float8Tables.e4m3fn, src, s, count, out)
    case .float8_e5m2fnuz: table(Float8Tables.e5m2fnuz, src, s, count, out)
    case .float8_e4m3fnuz: table(Float8Tables.e4m3fnuz, src, s, count, out)
    case .float8_e8m0fnu: table(Float8Tables.e8m0fnu, src, s, count, out)
    case .float4_e2m1fn_x2:
      Float8Tables.e2m1.withUnsafeBufferPointer { t in
        for i in 0..<count {
          let b = Int(src.load(fromByteOffset: i &* s, as: UInt8.self))
          out[2 &* i] = t[b & 0xF]
          out[2 &* i &+ 1] = t[b >> 4]
        }
      }
    case .int8: run(UInt8.self, src, s, count, out) { Double(Int8(bitPattern: $0)) }
    case .int16: run(UInt16.self, src, s, count, out) { Double(Int16(bitPattern: $0)) }
    case .int32: run(UInt32.self, src, s, count, out) { Double(Int32(bitPattern: $0)) }
    case .int64: run(UInt64.self, src, s, count, out) { Double(Int64(bitPattern: $0)) }
    case .uint8: run(UInt8.self, src, s, count, out) { Double($0) }
    case .uint16: run(UInt16.self, src, s, count, out) { Double($0) }
    case .uint32: run(UInt32.self, src, s, count, out) { Double($0) }
    case .uint64: run(UInt64.self, src, s, count, out) { Double($0) }
    case .bool: run(UInt8.self, src, s, count, out) { $0 == 0 ? 0 : 1 }
    case .complex32:
      halfTable.withUnsafeBufferPointer { t in
        run(UInt32.self, src, s, count, out) { bits in
          let (re, im) = swap ? (bits >> 16, bits & 0xFFFF) : (bits & 0xFFFF, bits >> 16)
          return hypot(Double(t[Int(re)]), Double(t[Int(im)]))
        }
      }
    case .bcomplex32:
      run(UInt32.self, src, s, count, out) { bits in
        let (re, im) = swap ? (bits >> 16, bits & 0xFFFF) : (bits & 0xFFFF, bits >> 16)
        return hypot(Double(Float(bitPattern: re << 16)), Double(Float(bitPattern: im << 16)))
      }
    case .complex64:
      complexPairs(UInt32.self, src, s, count, out) {
        hypot(Double(Float(bitPattern: $0)), Double(Float(bitPattern: $1)))
      }
    case .complex128:
      complexPairs(UInt64.self, src, s, count, out) {
        hypot(Double(bitPattern: $0), Double(bitPattern: $1))
      }
    case .qint8:
      run(UInt8.self, src, s, count, out) { Double(Int8(bitPattern: $0)) }
      dequantize(out, count)
    case .quint8:
      run(UInt8.self, src, s, count, out) { Double($0) }
      dequantize(out, count)
    case .qint32:
      run(UInt32.self, src, s, count, out) { Double(Int32(bitPattern: $0)) }
      dequantize(out, count)
    case .bits8, .bits16, .bits1x8, .bits2x4, .bits4x2, .quint4x2, .quint2x4, .int1, .int2, .int3,
      .int4, .int5, .int6, .int7, .uint1, .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
      // unsupportedReason(dtype) is non-nil for these; callers never get here.
      for i in 0..<count { out[i] = .nan }
    }
  }

  @inline(__always)
  private func dequantize(_ out: UnsafeMutablePointer<Double>, _ count: Int) {
    guard case .perTensor(let scale, let zeroPoint) = dequantization else { return }
    let zp = Double(zeroPoint)
    // The integer difference is exact in Double; torch then converts it to float and
    // multiplies by the float scale.
    for i in 0..<count { out[i] = Double(scale * Float(out[i] - zp)) }
  }

  /// Complex elements as (real, imaginary) bit patterns of `T`, each half swapped on its own
  /// when the file is big-endian (a complex is two numbers, not one wide number).
  @inline(__always)
  private func complexPairs<T: FixedWidthInteger>(
    _: T.Type, _ src: UnsafeRawPointer, _ stride: Int, _ count: Int,
    _ out: UnsafeMutablePointer<Double>, _ magnitude: (T, T) -> Double
  ) {
    for i in 0..<count {
      let p = src + i &* stride
      var re = p.loadUnaligned(as: T.self)
      var im = p.loadUnaligned(fromByteOffset: MemoryLayout<T>.size, as: T.self)
      if swap {
        re = re.byteSwapped
        im = im.byteSwapped
      }
      out[i] = magnitude(re, im)
    }
  }

  /// Loads each element as the unsigned integer `T` (byte-swapped when needed) and converts it;
  /// the contiguous case gets its own loop so the compiler can vectorize it.
  @inline(__always)
  private func run<T: FixedWidthInteger>(
    _ type: T.Type, _ src: UnsafeRawPointer, _ stride: Int, _ count: Int,
    _ out: UnsafeMutablePointer<Double>, _ convert: (T) -> Double
  ) {
    let size = MemoryLayout<T>.size
    if swap && size > 1 {
      for i in 0..<count {
        out[i] = convert(src.loadUnaligned(fromByteOffset: i &* stride, as: T.self).byteSwapped)
      }
    } else if stride == size {
      for i in 0..<count {
        out[i] = convert(src.loadUnaligned(fromByteOffset: i &* size, as: T.self))
      }
    } else {
      for i in 0..<count {
        out[i] = convert(src.loadUnaligned(fromByteOffset: i &* stride, as: T.self))
      }
    }
  }

  @inline(__always)
  private func table(
    _ table: [Double], _ src: UnsafeRawPointer, _ stride: Int, _ count: Int,
    _ out: UnsafeMutablePointer<Double>
  ) {
    table.withUnsafeBufferPointer { t in
      for i in 0..<count { out[i] = t[Int(src.load(fromByteOffset: i &* stride, as: UInt8.self))] }
    }
  }
}

/// Every float16 bit pattern as a Float (exact: float16 is a subset of float32).
let halfTable: [Float] = (0..<65_536).map { halfToFloat(UInt16($0)) }

/// IEEE 754 binary16 to binary32, exactly: sign, 5 exponent bits (bias 15), 10 fraction bits.
func halfToFloat(_ h: UInt16) -> Float {
  let sign: Float = h & 0x8000 != 0 ? -1 : 1
  let e = Int((h >> 10) & 0x1F)
  let m = Float(h & 0x3FF)
  switch e {
  case 0: return sign * m * 0x1p-24
  case 31: return m == 0 ? sign * .infinity : .nan
  default: return sign * (1024 + m) * Float(sign: .plus, exponent: e - 25, significand: 1)
  }
}

/// 256-entry decode tables for the 1-byte float formats (and the 16 values of float4 e2m1).
enum Float8Tables {
  /// A sign bit, `e` exponent bits and `m` mantissa bits with `bias`. `nan` says which
  /// patterns are NaN; `hasInfinity` gives IEEE infinities at the top exponent.
  static func make(
    exponentBits e: Int, mantissaBits m: Int, bias: Int, hasInfinity: Bool = false,
    nan: (UInt8) -> Bool
  ) -> [Double] {
    (0..<256).map { raw -> Double in
      let b = UInt8(raw)
      if nan(b) { return .nan }
      let sign: Double = b & 0x80 != 0 ? -1 : 1
      let exponent = Int(b >> m) & ((1 << e) - 1)
      let mantissa = Double(Int(b) & ((1 << m) - 1))
      let unit = Double(1 << m)
      if hasInfinity && exponent == (1 << e) - 1 { return sign * .infinity }
      if exponent == 0 { return sign * mantissa / unit * pow2(1 - bias) }
      return sign * (1 + mantissa / unit) * pow2(exponent - bias)
    }
  }

  static func pow2(_ n: Int) -> Double { Double(sign: .plus, exponent: n, significand: 1) }

  /// float8_e5m2: IEEE-like (the top byte of a float16): infinities and NaNs at exponent 31.
  static let e5m2 = make(exponentBits: 5, mantissaBits: 2, bias: 15, hasInfinity: true) {
    $0 & 0x7F > 0x7C
  }
  /// float8_e4m3fn: no infinities; only S.1111.111 is NaN; largest 448.
  static let e4m3fn = make(exponentBits: 4, mantissaBits: 3, bias: 7) { $0 & 0x7F == 0x7F }
  /// float8_e5m2fnuz: bias 16, no infinities, no negative zero: 0x80 is the only NaN.
  static let e5m2fnuz = make(exponentBits: 5, mantissaBits: 2, bias: 16) { $0 == 0x80 }
  /// float8_e4m3fnuz: bias 8, no infinities, no negative zero: 0x80 is the only NaN.
  static let e4m3fnuz = make(exponentBits: 4, mantissaBits: 3, bias: 8) { $0 == 0x80 }
  /// float8_e8m0fnu: an unsigned power of two, 2^(b - 127); 0xFF is NaN; no zero.
  static let e8m0fnu: [Double] = (0..<256).map { $0 == 255 ? .nan : pow2($0 - 127) }
  /// float4_e2m1fn: sign, 2 exponent bits (bias 1), 1 mantissa bit: 0, 0.5, 1, 1.5, 2, 3, 4, 6.
  static let e2m1: [Double] = (0..<16).map { n -> Double in
    let sign: Double = n & 8 != 0 ? -1 : 1
    let exponent = (n >> 1) & 3
    let mantissa = Double(n & 1)
    return exponent == 0 ? sign * mantissa * 0.5 : sign * (1 + mantissa / 2) * pow2(exponent - 1)
  }
}

// MARK: stored elements straight into SIMD lanes

/// How the fused kernels (`ValueStatistics.addStored`, `DiffAccumulator.add`) load stored
/// little-endian floating-point elements: 8 at a time as two `SIMD4<Double>`, or one. Every
/// conversion is exact.
protocol StoredLanes {
  /// Bytes per element.
  static var itemSize: Int { get }
  /// Elements `i..<i+8`.
  static func load(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<Double>)
  /// Elements `i..<i+4`.
  static func load4(_ p: UnsafeRawPointer, _ i: Int) -> SIMD4<Double>
  /// Element `i`.
  static func scalar(_ p: UnsafeRawPointer, _ i: Int) -> Double
  /// Every value is a float32 value (float32, bfloat16, float16; not float64).
  static var isFloatValued: Bool { get }
}

/// Stored types whose every value is a float32 value, loaded 8 at a time as two float vectors,
/// `first` and `second`: in order, (e0, e1, e2, e3) and (e4, e5, e6, e7), for float32; the
/// even and the odd elements, (e0, e2, e4, e6) and (e1, e3, e5, e7), for the 16-bit types
/// (`interleaved`), whose pairs of elements are one 32-bit lane each (no shuffles on SSE2).
protocol FloatLanes: StoredLanes {
  /// Elements `i..<i+8` as two float vectors.
  static func halves(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Float>, SIMD4<Float>)
  /// Whether `halves` are the even and the odd elements.
  static var interleaved: Bool { get }
}

extension FloatLanes {
  static var isFloatValued: Bool { true }

  /// Elements `i..<i+8` in order.
  @inline(__always)
  static func load(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<Double>) {
    let (f, s) = halves(p, i)
    guard interleaved else { return (SIMD4<Double>(f), SIMD4<Double>(s)) }
    return (
      SIMD4<Double>(SIMD4<Float>(f[0], s[0], f[1], s[1])),
      SIMD4<Double>(SIMD4<Float>(f[2], s[2], f[3], s[3]))
    )
  }

  /// The 8 elements of `halves` as the two double pairs of each of two accumulators, x and y,
  /// as the kernels add them (x += xa + xb, y += ya + yb): the lanes of a `SIMD4<Double>`
  /// accumulator meeting elements (j, j + 4), with x holding lanes 0 and 1 (in order) or 0
  /// and 2 (interleaved), y the other two.
  @inline(__always)
  static func pairs(_ f: SIMD4<Float>, _ s: SIMD4<Float>) -> (
    xa: SIMD2<Double>, xb: SIMD2<Double>, ya: SIMD2<Double>, yb: SIMD2<Double>
  ) {
    if interleaved {
      return (
        SIMD2<Double>(f.lowHalf), SIMD2<Double>(f.highHalf), SIMD2<Double>(s.lowHalf),
        SIMD2<Double>(s.highHalf)
      )
    }
    return (
      SIMD2<Double>(f.lowHalf), SIMD2<Double>(s.lowHalf), SIMD2<Double>(f.highHalf),
      SIMD2<Double>(s.highHalf)
    )
  }

  /// The sum of accumulators x and y's lanes in the order `SIMD4<Double>.sum()` takes lanes
  /// 0, 1, 2 and 3 (((l0 + l1) + l2) + l3).
  @inline(__always)
  static func sum(_ x: SIMD2<Double>, _ y: SIMD2<Double>) -> Double {
    interleaved ? ((x[0] + y[0]) + x[1]) + y[1] : ((x[0] + x[1]) + y[0]) + y[1]
  }
}

enum Float64Lanes: StoredLanes {
  static var itemSize: Int { 8 }
  static var isFloatValued: Bool { false }
  @inline(__always)
  static func load(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<Double>) {
    (
      p.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self),
      p.loadUnaligned(fromByteOffset: i &* 8 &+ 32, as: SIMD4<Double>.self)
    )
  }
  @inline(__always)
  static func load4(_ p: UnsafeRawPointer, _ i: Int) -> SIMD4<Double> {
    p.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
  }
  @inline(__always)
  static func scalar(_ p: UnsafeRawPointer, _ i: Int) -> Double {
    p.loadUnaligned(fromByteOffset: i &* 8, as: Double.self)
  }
}

enum Float32Lanes: FloatLanes {
  static var itemSize: Int { 4 }
  static var interleaved: Bool { false }
  @inline(__always)
  static func halves(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Float>, SIMD4<Float>) {
    (
      p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self),
      p.loadUnaligned(fromByteOffset: i &* 4 &+ 16, as: SIMD4<Float>.self)
    )
  }
  @inline(__always)
  static func load4(_ p: UnsafeRawPointer, _ i: Int) -> SIMD4<Double> {
    SIMD4<Double>(p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self))
  }
  @inline(__always)
  static func scalar(_ p: UnsafeRawPointer, _ i: Int) -> Double {
    Double(p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self))
  }
}

enum BFloat16Lanes: FloatLanes {
  static var itemSize: Int { 2 }
  static var interleaved: Bool { true }
  /// bfloat16 is the top half of a float32: the even element shifted into place, the odd one
  /// masked.
  @inline(__always)
  static func halves(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Float>, SIMD4<Float>) {
    let w = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<UInt32>.self)
    return (
      unsafeBitCast(w &<< 16, to: SIMD4<Float>.self),
      unsafeBitCast(w & 0xFFFF_0000, to: SIMD4<Float>.self)
    )
  }
  @inline(__always)
  static func load4(_ p: UnsafeRawPointer, _ i: Int) -> SIMD4<Double> {
    let w = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD2<UInt32>.self)
    let (f, s) = (w &<< 16, w & 0xFFFF_0000)
    return SIMD4<Double>(
      SIMD4<Float>(
        Float(bitPattern: f[0]), Float(bitPattern: s[0]), Float(bitPattern: f[1]),
        Float(bitPattern: s[1])))
  }
  @inline(__always)
  static func scalar(_ p: UnsafeRawPointer, _ i: Int) -> Double {
    Double(
      Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) << 16))
  }
}

enum Float16Lanes: FloatLanes {
  static var itemSize: Int { 2 }
  static var interleaved: Bool { true }
  @inline(__always)
  static func halves(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD4<Float>, SIMD4<Float>) {
    let w = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<Int32>.self)
    return (halfToFloat(w & 0xFFFF), halfToFloat((w &>> 16) & 0xFFFF))
  }
  @inline(__always)
  static func load4(_ p: UnsafeRawPointer, _ i: Int) -> SIMD4<Double> {
    let w = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD2<Int32>.self)
    let v = halfToFloat(SIMD4<Int32>(w[0], w[0] &>> 16, w[1], w[1] &>> 16) & 0xFFFF)
    return SIMD4<Double>(v)
  }
  @inline(__always)
  static func scalar(_ p: UnsafeRawPointer, _ i: Int) -> Double {
    Double(halfTable[Int(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))])
  }
}

/// IEEE binary16 to binary32 for 4 halves at once (bits in the low 16 of each lane), exactly,
/// in integer lanes (no F16C on baseline x86_64): NaN payloads kept, -0 stays -0.
@inline(__always)
func halfToFloat(_ h: SIMD4<Int32>) -> SIMD4<Float> {
  let magnitude = h & 0x7FFF
  let sign = (h & 0x8000) &<< 16
  // Normal numbers: the exponent re-biased from 15 to 127 (112 << 23).
  var bits = (magnitude &<< 13) &+ 0x3800_0000
  // Inf and NaN: exponent 31 becomes 255.
  bits = bits.replacing(with: bits &+ 0x3800_0000, where: magnitude .>= 0x7C00)
  // Zero and subnormals, m * 2^-24: 2^-14 * (1 + m / 1024) - 2^-14, exact (Sterbenz).
  let small =
    unsafeBitCast((magnitude &<< 13) &+ 0x3880_0000, to: SIMD4<Float>.self) - 0x1p-14
  bits = bits.replacing(
    with: unsafeBitCast(small, to: SIMD4<Int32>.self), where: magnitude .< 0x400)
  return unsafeBitCast(bits | sign, to: SIMD4<Float>.self)
}

// MARK: NaN and Inf from the bits

extension ValueDecoder {
  /// NaN and Inf among `count` stored little-endian elements of a binary floating-point dtype
  /// (float64, float32, bfloat16, float16), from their bits alone: exponent all ones, Inf when
  /// the fraction is zero, else NaN. Nil for any other dtype.
  static func nonFinite(_ p: UnsafeRawPointer, count: Int, dtype: DType)
    -> (nan: Int64, inf: Int64)?
  {
    switch dtype {
    case .float64:
      return nonFinite(p, count, exponent: UInt64(0x7FF0_0000_0000_0000))
    case .float32: return nonFinite(p, count, exponent: UInt32(0x7F80_0000))
    case .bfloat16: return nonFinite(p, count, exponent: UInt16(0x7F80))
    case .float16: return nonFinite(p, count, exponent: UInt16(0x7C00))
    default: return nil
    }
  }

  /// A vector pass finds whether a block of 4,096 has any element with the exponent all ones:
  /// the exponent bits plus their lowest bit carry into the sign bit exactly then, so the pass
  /// is an and, an add and an or per vector (no compares). Only such a block is counted element
  /// by element.
  @inline(__always)
  static func nonFinite<T: FixedWidthInteger & UnsignedInteger & SIMDScalar>(
    _ p: UnsafeRawPointer, _ count: Int, exponent e: T
  ) -> (nan: Int64, inf: Int64) {
    let size = MemoryLayout<T>.size
    let fraction = ~e & (T.max >> 1)
    let unit = e & ~(e << 1)
    let sign = ~(T.max >> 1)
    let exponents = SIMD16<T>(repeating: e)
    let units = SIMD16<T>(repeating: unit)
    var nan: Int64 = 0
    var inf: Int64 = 0
    var start = 0
    while start < count {
      let n = Swift.min(4_096, count - start)
      let q = p + start &* size
      var carries = SIMD16<T>(repeating: 0)
      let vectors = n / 16
      for i in 0..<vectors {
        let v = q.loadUnaligned(fromByteOffset: i &* 16 &* size, as: SIMD16<T>.self)
        carries |= (v & exponents) &+ units
      }
      var any: T = 0
      for j in 0..<16 { any |= carries[j] }
      for i in (vectors &* 16)..<n {
        any |= (q.loadUnaligned(fromByteOffset: i &* size, as: T.self) & e) &+ unit
      }
      if any & sign != 0 {
        for i in 0..<n {
          let v = q.loadUnaligned(fromByteOffset: i &* size, as: T.self)
          guard v & e == e else { continue }
          if v & fraction == 0 { inf &+= 1 } else { nan &+= 1 }
        }
      }
      start += n
    }
    return (nan, inf)
  }
}
