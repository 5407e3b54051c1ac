/** A small dependency-free SVG bar chart: one group per label, one bar per series. */
export function barChartSvg(title: string, labels: string[], series: { name: string; values: number[] }[], unit: string): string {
    const w = 760, h = 360, left = 60, bottom = 60, top = 40;
    const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
    const groupW = (w - left - 20) / Math.max(1, labels.length);
    const barW = (groupW * 0.8) / Math.max(1, series.length);
    const colors = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2"];
    const y = (v: number) => top + (h - top - bottom) * (1 - v / max);
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
        `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
        `<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#333"/>`,
        `<text x="12" y="${top + 10}">${unit}</text>`,
        `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${max.toFixed(2)}</text>`];
    labels.forEach((label, i) => {
        const gx = left + i * groupW + groupW * 0.1;
        series.forEach((s, j) => {
            const v = s.values[i] ?? 0;
            parts.push(`<rect x="${gx + j * barW}" y="${y(v)}" width="${barW - 2}" height="${h - bottom - y(v)}" fill="${colors[j % colors.length]}"><title>${s.name}: ${v.toFixed(2)}</title></rect>`);
        });
        parts.push(`<text x="${gx + (groupW * 0.8) / 2}" y="${h - bottom + 16}" text-anchor="middle">${label}</text>`);
    });
    series.forEach((s, j) => parts.push(`<rect x="${left + j * 135}" y="${h - 24}" width="10" height="10" fill="${colors[j % colors.length]}"/><text x="${left + j * 135 + 14}" y="${h - 15}">${s.name}</text>`));
    parts.push("</svg>");
    return parts.join("\n");
}
