// Addresses in the engine's linear memory. Kernels take byte offsets ("pointers"); sizes, strides
// and leading dimensions are counted in elements (floats). Every conversion between the two goes
// through this file, so `p + 4 * n` never appears in model code.

/** Bytes of an f32 (and of an int32: ids share the arena's float slots). */
export const F32_BYTES = 4;

/** Every allocation is aligned to a cache line. */
export const ALIGN = 64;

/** Rounds n up to a multiple of a. */
export const alignUp = (n: number, a = ALIGN): number => Math.ceil(n / a) * a;

/** The pointer `floats` f32 elements past `ptr` (0 stays 0: a null pointer is "absent"). */
export const f32At = (ptr: number, floats: number): number =>
  ptr === 0 ? 0 : ptr + floats * F32_BYTES;

/** Bytes of `floats` f32 elements. */
export const f32Bytes = (floats: number): number => floats * F32_BYTES;

/** The index of a pointer in a Float32Array / Int32Array view of the whole memory. */
export const f32Index = (ptr: number): number => ptr / F32_BYTES;
