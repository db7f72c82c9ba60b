// The WebAssembly kernels' exports (assembly/index.ts), typed: byte offsets for pointers, floats
// for strides. Engine calls them through its `k`; the pool threads through their own instances.

export interface Kernels {
  heap_base(): number;
  relaxed(): number;
  f32_pack_panels8(n: number, k: number, w: number, out: number): void;
  f32_gemm_4x8(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    kStride: number,
    panelStride: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
  ): void;
  f32_pack_rows4(m: number, k: number, a: number, lda: number, out: number): void;
  f32_gemm_4x8_packed(
    m: number,
    n: number,
    k: number,
    ap: number,
    b: number,
    panelStride: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
    act: number,
  ): void;
  f32_attn_scores(
    sq: number,
    sk: number,
    d: number,
    q: number,
    ldq: number,
    k: number,
    ldk: number,
    s: number,
    lds: number,
  ): void;
  f32_attn_relative(
    sq: number,
    sk: number,
    d: number,
    x: number,
    ldx: number,
    byKey: number,
    e: number,
    maxPos: number,
    l0: number,
    lstep: number,
    s: number,
    lds: number,
  ): void;
  f32_softmax_rows(
    rows: number,
    n: number,
    s: number,
    lds: number,
    scale: number,
    mask: number,
    ldm: number,
    headScale: number,
  ): void;
  /** over pairs [bh0, bh1) with the arguments in the MhaContext block at c; thread: the caller's index */
  f32_mha(c: number, bh0: number, bh1: number, thread: number): void;
  f32_mha_context_bytes(): number;
  f32_layernorm(
    rows: number,
    n: number,
    x: number,
    ldx: number,
    gamma: number,
    beta: number,
    eps: number,
    y: number,
    ldy: number,
  ): void;
  f32_activation(kind: number, n: number, x: number, y: number): void;
  f32_activation1(kind: number, x: number): number;
  f32_bert_embeddings(
    rows: number,
    h: number,
    word: number,
    wordPacked: number,
    ids: number,
    inputsEmbeds: number,
    type: number,
    tids: number,
    pos: number,
    pids: number,
    out: number,
  ): void;
  bf16_to_f32(n: number, src: number, out: number): void;
  f16_to_f32(n: number, src: number, out: number): void;
  f32_to_f16(n: number, src: number, out: number): void;
  f16_pack_panels8(n: number, k: number, w: number, out: number): void;
  f16_gemm_4x8_packed(
    m: number,
    n: number,
    k: number,
    ap: number,
    b: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
    act: number,
    scratch: number,
  ): void;
  q8_quantize_rows(rows: number, k: number, src: number, q: number, scales: number): number;
  q8_pack_weights(n: number, k: number, w: number, out: number, sums: number): void;
  q8_packed_a_bytes(m: number, k: number): number;
  /** the q8 micro-kernel this instance runs: 0 i16 dot, 1 relaxed dot on u8, 2 relaxed dot on i8 */
  q8_kernel(): number;
  q8_pack_rows4(m: number, k: number, a: number, lda: number, out: number, rq: number): void;
  q8_gemm_packed(
    m: number,
    n: number,
    k: number,
    ap: number,
    rq: number,
    w: number,
    sw: number,
    ws: number,
    bias: number,
    c: number,
    ldc: number,
    r: number,
    ldr: number,
    act: number,
  ): void;
  f16_gather_rows(rows: number, h: number, table: number, ids: number, out: number): void;
  q8_gather_packed_rows(
    rows: number,
    k: number,
    w: number,
    sw: number,
    ids: number,
    out: number,
  ): void;
  q8_gather_rows(
    rows: number,
    h: number,
    table: number,
    scales: number,
    ids: number,
    out: number,
  ): void;
}
