// Weight conversion at load time: F16 and BF16 checkpoints become f32 in place in linear memory.

/** out[i] = f32(bf16 in[i]): the bf16 bits are the high half of the f32. */
export function bf16_to_f32(n: i32, src: usize, out: usize): void {
  // walk backwards so that out may overlap src (out == src, widening in place)
  for (let i = n - 1; i >= 0; i--) {
    store<u32>(out + ((<usize>i) << 2), (<u32>load<u16>(src + ((<usize>i) << 1))) << 16);
  }
}

// @ts-ignore: decorator
@inline function halfToFloatBits(h: u32): u32 {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp == 0x1f) return sign | 0x7f800000 | (mant << 13); // inf, nan
  if (exp != 0) return sign | ((exp + 112) << 23) | (mant << 13); // normal: rebias 15 -> 127
  if (mant == 0) return sign; // signed zero
  // subnormal half: normalise
  let m = mant;
  let e: u32 = 113;
  while ((m & 0x400) == 0) {
    m <<= 1;
    e--;
  }
  return sign | (e << 23) | ((m & 0x3ff) << 13);
}

/** out[i] = f32(f16 in[i]), exact. */
export function f16_to_f32(n: i32, src: usize, out: usize): void {
  for (let i = n - 1; i >= 0; i--) {
    store<u32>(out + ((<usize>i) << 2), halfToFloatBits(<u32>load<u16>(src + ((<usize>i) << 1))));
  }
}
