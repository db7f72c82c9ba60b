// BertEmbeddings' gather and sum: out[r] = (word[ids[r]] + type[tids[r]]) + pos[pids[r]],
// in HF's order of additions. Index arrays are i32, checked for range by the caller.
//
// The word table is either row-major [vocab, h], or — when a tied MLM decoder uses the same
// matrix as its GEMM weight — only in the decoder's packed layout (gemm.ts: 8-row panels,
// element (v, t) at ((v >> 3)·h·8 + t·8 + (v & 7))·4): one copy of the largest tensor, gathered
// with a strided read.

/**
 * rows: tokens; h: hidden size. ids 0 means the rows come from inputsEmbeds [rows, h] instead of
 * the word table; pids 0 means no position term (relative position models).
 */
export function f32_bert_embeddings(
  rows: i32,
  h: i32,
  word: usize,
  wordPacked: bool,
  ids: usize,
  inputsEmbeds: usize,
  type: usize,
  tids: usize,
  pos: usize,
  pids: usize,
  out: usize,
): void {
  const rowB = (<usize>h) << 2;
  for (let r = 0; r < rows; r++) {
    const ro = (<usize>r) << 2;
    const o = out + <usize>r * rowB;
    let src: usize;
    if (!ids) src = inputsEmbeds + <usize>r * rowB;
    else if (!wordPacked) src = word + <usize>load<i32>(ids + ro) * rowB;
    else {
      const v = <usize>load<i32>(ids + ro);
      const col = word + (v >> 3) * (rowB << 3) + ((v & 7) << 2);
      for (let j = 0; j < h; j++)
        store<f32>(o + ((<usize>j) << 2), load<f32>(col + ((<usize>j) << 5)));
      src = o;
    }
    const t = type + <usize>load<i32>(tids + ro) * rowB;
    const p = pids ? pos + <usize>load<i32>(pids + ro) * rowB : 0;
    let j = 0;
    for (; j + 4 <= h; j += 4) {
      const off = (<usize>j) << 2;
      let v = f32x4.add(v128.load(src + off), v128.load(t + off));
      if (p) v = f32x4.add(v, v128.load(p + off));
      v128.store(o + off, v);
    }
    for (; j < h; j++) {
      const off = (<usize>j) << 2;
      let v = load<f32>(src + off) + load<f32>(t + off);
      if (p) v += load<f32>(p + off);
      store<f32>(o + off, v);
    }
  }
}
