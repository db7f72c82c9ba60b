// The bench's chart: one panel per (model, batch x seq), a horizontal bar per engine (median
// latency, whiskers p10-p90), simdbert's ratio to each peer written beside its bar.
const COLORS = {
  simdbert: "#1f77b4",
  "simdbert-relaxed": "#6baed6",
  "simdbert-2t": "#08519c",
  "ort-web": "#ff7f0e",
  "ort-web-2t": "#fdae6b",
  "ort-node-1t": "#2ca02c",
  "ort-node": "#98df8a",
};
const LABELS = {
  simdbert: "simdbert (SIMD, 1 thread)",
  "simdbert-relaxed": "simdbert (relaxed SIMD, 1 thread)",
  "simdbert-2t": "simdbert (SIMD, 2 threads)",
  "ort-web": "onnxruntime-web (wasm SIMD, 1 thread)",
  "ort-web-2t": "onnxruntime-web (wasm SIMD, 2 threads)",
  "ort-node-1t": "onnxruntime-node (CPU, 1 thread)",
  "ort-node": "onnxruntime-node (CPU, default threads)",
};

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const ms = (s) => {
  const v = s * 1e3;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
};

/** results.models: [{ model, shapes: [{ batch, seq, median, p10, p90 }] }] */
export function chartSvg(results) {
  const panels = [];
  for (const m of results.models ?? [])
    for (const s of m.shapes)
      panels.push({ title: `${m.model}  batch ${s.batch} x seq ${s.seq}`, s });
  const engines = [...new Set(panels.flatMap((p) => Object.keys(p.s.median)))];
  const W = 980,
    barH = 18,
    gap = 4,
    left = 250,
    right = 280,
    head = 26;
  const panelH = head + engines.length * (barH + gap) + 14;
  const top = 70;
  const H = top + panels.length * panelH + 20;
  const o = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(
    `<text x="12" y="24" font-size="16" font-weight="bold">${esc(results.title ?? "simdbert bench: median latency per forward (lower is better)")}</text>`,
  );
  o.push(`<text x="12" y="44" fill="#555">${esc(results.subtitle ?? "")}</text>`);
  o.push(
    `<text x="12" y="60" fill="#555">bars: median; whiskers: 10th-90th percentile; right: simdbert's latency / the engine's, plain and relaxed SIMD builds (below 1: simdbert is faster)</text>`,
  );
  panels.forEach((p, i) => {
    const y0 = top + i * panelH;
    const present = engines.filter((e) => p.s.median[e] !== undefined);
    const max = Math.max(...present.map((e) => p.s.p90?.[e] ?? p.s.median[e]));
    const scale = (W - left - right) / max;
    o.push(`<text x="12" y="${y0 + 16}" font-weight="bold">${esc(p.title)}</text>`);
    present.forEach((e, j) => {
      const y = y0 + head + j * (barH + gap);
      const med = p.s.median[e];
      const w = Math.max(1, med * scale);
      o.push(
        `<text x="${left - 8}" y="${y + barH - 5}" text-anchor="end">${esc(LABELS[e] ?? e)}</text>`,
      );
      o.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[e] ?? "#999"}"/>`,
      );
      let end = left + w;
      if (p.s.p10?.[e] !== undefined) {
        const a = left + p.s.p10[e] * scale,
          b = left + p.s.p90[e] * scale,
          cy = y + barH / 2;
        o.push(
          `<line x1="${a.toFixed(1)}" x2="${b.toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#333"/>`,
        );
        end = Math.max(end, b);
      }
      let label = `${ms(med)} ms`;
      if (!e.startsWith("simdbert")) {
        const r = (mine) =>
          p.s.median[mine] !== undefined ? `${(p.s.median[mine] / med).toFixed(2)}x` : null;
        const parts = [
          r("simdbert") && `simdbert/this ${r("simdbert")}`,
          r("simdbert-relaxed") && `relaxed ${r("simdbert-relaxed")}`,
        ].filter(Boolean);
        if (parts.length) label += `   ${parts.join(", ")}`;
      }
      o.push(`<text x="${(end + 6).toFixed(1)}" y="${y + barH - 5}">${esc(label)}</text>`);
    });
  });
  o.push(`</svg>`);
  return o.join("\n") + "\n";
}
