// BertEmbeddings' gather and sum: out[r] = (word[ids[r]] + type[tids[r]]) + pos[pids[r]],
// in HF's order of additions. Index arrays are i32, checked for range by the caller.

/**
 * rows: tokens; h: hidden size. ids 0 means the rows come from inputsEmbeds [rows, h] instead of
 * the word table; pids 0 means no position term (relative position models).
 */
export function f32_bert_embeddings(
  rows: i32, h: i32,
  word: usize, ids: usize, inputsEmbeds: usize,
  type: usize, tids: usize,
  pos: usize, pids: usize,
  out: usize,
): void {
  const rowB = <usize>h << 2;
  for (let r = 0; r < rows; r++) {
    const ro = <usize>r << 2;
    const src = ids ? word + <usize>load<i32>(ids + ro) * rowB : inputsEmbeds + <usize>r * rowB;
    const t = type + <usize>load<i32>(tids + ro) * rowB;
    const p = pids ? pos + <usize>load<i32>(pids + ro) * rowB : 0;
    const o = out + <usize>r * rowB;
    let j = 0;
    for (; j + 4 <= h; j += 4) {
      const off = <usize>j << 2;
      let v = f32x4.add(v128.load(src + off), v128.load(t + off));
      if (p) v = f32x4.add(v, v128.load(p + off));
      v128.store(o + off, v);
    }
    for (; j < h; j++) {
      const off = <usize>j << 2;
      let v = load<f32>(src + off) + load<f32>(t + off);
      if (p) v += load<f32>(p + off);
      store<f32>(o + off, v);
    }
  }
}
